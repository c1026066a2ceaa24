"""Unchecked input never gives a 500 (issue 12, hole 11): deeply nested or ill-typed LINE bodies, ids
past the database's integer range on every ``<int:…>`` route and query parameter, dates in year 9999.
Then a bounded Hypothesis run over the LINE webhook parser and the Twilio form handler: never a 500,
and a malformed request changes nothing in the database."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from sandbox.line import sign
from delivery.driver_links import make_token
from otodoke.all_models import metadata
from core.db import db
from core.inputs import BoundedIntConverter, DB_INT_MAX, db_int, parse_day
from tests.line_support import (  # noqa: F401  (fixtures)
    NOW_MS, RESIDENT_USER, SECRET, body, event_id, line_app, line_client, line_fake, post, seed_town)
from tests.test_staff_and_driver_pages import _login
from tests.voice_sim import PUBLIC_BASE, TOKEN, voice_app  # noqa: F401  (fixture)
from twilio.request_validator import RequestValidator

HUGE = 2**64   # past PostgreSQL's integer and SQLite's 64-bit INTEGER alike


def snapshot(app: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table: "nothing changed" means this is equal before and after. The audit
    log's page views (who looked at which residents' data) are not changes, and are left out."""
    with db.bound(app).sessions() as session:
        rows = {table.name: sorted(map(tuple, session.execute(select(table)).all()), key=repr)
                for table in metadata.sorted_tables}
    action = [c.name for c in metadata.tables["audit_log"].columns].index("action")
    rows["audit_log"] = [row for row in rows["audit_log"] if not str(row[action]).startswith("view.")]
    return rows


# --- the helpers ---------------------------------------------------------------------------------

def test_db_int_and_parse_day_bound_what_they_accept() -> None:
    assert db_int("42") == 42 and db_int(7) == 7 and db_int(str(DB_INT_MAX)) == DB_INT_MAX
    for bad in (str(DB_INT_MAX + 1), str(HUGE), "-1", "1e3", "abc", "", None, True, 1.5, "١٢"):
        assert db_int(bad) is None, bad
    assert parse_day("2026-12-01") is not None
    for bad in ("9999-12-31", "0001-01-01", "2026-13-01", "x", "", None):
        assert parse_day(bad) is None, bad


# --- LINE ----------------------------------------------------------------------------------------

def _event(**changes: Any) -> dict[str, Any]:
    raw = json.loads(body("text", text="こんにちは"))["events"][0]
    raw.update(changes)
    return raw


def _signed(line_client: Any, payload: Any) -> Any:  # noqa: F811
    return post(line_client, payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False))


def test_a_deeply_nested_signed_body_is_400_not_a_500(line_app, line_client) -> None:  # noqa: F811
    before = snapshot(line_app)
    assert _signed(line_client, '{"events": [' + "[" * 200_000 + "]" * 200_000 + "]}").status_code == 400
    # Deep, but still short of Python's recursion limit: the parser must not walk it either.
    assert _signed(line_client, '{"events": [{"x": ' + "[" * 900 + "]" * 900 + "}]}").status_code == 400
    assert snapshot(line_app) == before


@pytest.mark.parametrize("changes", [
    {"timestamp": "abc"}, {"timestamp": 1e400}, {"timestamp": -5}, {"timestamp": True},
    {"deliveryContext": [1]}, {"deliveryContext": {"isRedelivery": "yes"}},
    {"source": "Uabc"}, {"source": {"type": "user", "userId": 5}}, {"source": {"type": "user", "userId": "U" * 65}},
    {"webhookEventId": ["x"]}, {"webhookEventId": "e" * 129}, {"replyToken": {"a": 1}},
    {"message": {"type": "text", "id": "1", "text": "だいこん\u0000"}},
], ids=repr)
def test_an_ill_typed_event_is_ignored_with_200(line_app, line_client, line_fake, changes) -> None:  # noqa: F811
    seed_town(line_app)
    before = snapshot(line_app)
    # json.dumps writes an infinite float as Infinity; the probe sent the number 1e400.
    raw = json.dumps({"destination": "U0", "events": [_event(**changes)]}).replace("Infinity", "1e400")
    assert _signed(line_client, raw).status_code == 200
    assert snapshot(line_app) == before and not line_fake.fake.calls


def test_the_good_events_of_a_batch_are_still_handled(line_app, line_client, line_fake) -> None:  # noqa: F811
    seed_town(line_app)
    payload = {"destination": "U0", "events": [_event(timestamp="abc"), _event(webhookEventId=event_id())]}
    assert _signed(line_client, payload).status_code == 200
    assert len([c for c in line_fake.fake.calls if c.path.endswith("/message/reply")]) == 1


# --- ids past the database's range on every <int:…> route ----------------------------------------

def test_every_int_route_is_bounded(app) -> None:
    rules = [rule for rule in app.url_map.iter_rules() if "int" in str(rule.rule)]
    assert rules
    for rule in rules:
        for converter in rule._converters.values():  # noqa: SLF001 - checking the routing itself
            assert isinstance(converter, BoundedIntConverter) or not str(type(converter)).endswith(
                "IntegerConverter'>"), rule.rule


def _with_csrf(client: Any) -> str:
    """The signed-in session's own form token (Flask-WTF), as a page would carry it."""
    from tests.accounts_support import csrf_of
    return csrf_of(client.get("/staff/login").get_data(as_text=True))


def test_huge_ids_on_staff_and_driver_routes_are_404(app, client) -> None:
    _login(client)
    csrf = _with_csrf(client)
    token = make_token(app.config["SECRET_KEY"], 1)
    before = snapshot(app)
    assert client.get(f"/staff/runs/{HUGE}/sheet").status_code == 404
    assert client.get(f"/staff/runs/{HUGE}/link").status_code == 404
    assert client.get(f"/staff/picking/2026-12-01/{HUGE}").status_code == 404
    assert client.post(f"/driver/run/{token}/stops/{HUGE}",
                       data={"outcome": "done", "csrf_token": csrf}).status_code == 404
    assert client.post(f"/voice/messages/{HUGE}/handled", data={"csrf_token": csrf}).status_code == 404
    for action in ("move-next", "assign", "cancel"):
        assert client.post(f"/staff/orders/{HUGE}/{action}", data={"csrf_token": csrf}).status_code == 404
    # A run number in the form (便に追加) is checked the same way: a message, not a 500.
    response = client.post("/staff/orders/1/assign", data={"csrf_token": csrf, "to": f"run:{HUGE}"},
                           follow_redirects=True)
    assert response.status_code == 200 and "便を選んでください" in response.get_data(as_text=True)
    assert snapshot(app) == before


def test_a_date_in_year_9999_is_a_message_not_a_500(app, client) -> None:
    _login(client)
    response = client.get("/staff/?date=9999-12-31")
    assert response.status_code == 200 and "2000〜2099年" in response.get_data(as_text=True)
    assert client.get("/staff/picking/9999-12-31/1").status_code == 404


def _twilio(client: Any, path: str, params: dict[str, str]) -> Any:
    signature = RequestValidator(TOKEN).compute_signature(PUBLIC_BASE + path, params)
    return client.post(path, data=params, headers={"X-Twilio-Signature": signature})


def test_a_huge_order_number_on_the_eta_answer_is_400(voice_app) -> None:  # noqa: F811
    client = voice_app.test_client()
    before = snapshot(voice_app)
    response = _twilio(client, f"/voice/eta?order={HUGE}&try=1", {"CallSid": "CA1", "Digits": "2"})
    assert response.status_code == 400
    response = _twilio(client, f"/voice/step/menu?s={HUGE}", {"CallSid": "CA2", "Digits": "1"})
    assert response.status_code == 200        # an unknown call starts afresh, as before
    assert snapshot(voice_app)["voice_messages"] == before["voice_messages"]


# --- properties ----------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12)


def _wrong(kind: str) -> st.SearchStrategy[Any]:
    """A value of the wrong type (or range) for one envelope field."""
    if kind == "timestamp":
        return json_values.filter(lambda v: isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 2**53)
    if kind == "deliveryContext":
        return json_values.filter(lambda v: not isinstance(v, dict) or not isinstance(
            v.get("isRedelivery", False), bool))
    if kind == "source":
        return json_values.filter(lambda v: not isinstance(v, dict) or (
            "userId" in v and not (isinstance(v["userId"], str) and 0 < len(v["userId"]) <= 64)))
    if kind == "webhookEventId":
        return json_values.filter(lambda v: v is not None and not (isinstance(v, str) and len(v) <= 128))
    return st.text(max_size=10).map(lambda s: s + "\x00")   # a NUL anywhere


bad_events = st.sampled_from(["timestamp", "deliveryContext", "source", "webhookEventId", "nul"]).flatmap(
    lambda kind: _wrong(kind).map(lambda value: (kind, value)))
bad_bodies = st.one_of(
    json_values.filter(lambda v: not (isinstance(v, dict) and isinstance(v.get("events"), list))).map(json.dumps),
    st.text(max_size=60),
    st.integers(17, 3000).map(lambda n: '{"events": ' + "[" * n + "]" * n + "}"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=st.lists(bad_events, min_size=1, max_size=3), junk=bad_bodies, which=st.booleans())
def test_property_line_webhook_never_500_and_changes_nothing(line_app, line_client, line_fake,  # noqa: F811
                                                              events, junk, which) -> None:
    before = snapshot(line_app)
    if which:
        raws = []
        for kind, value in events:
            if kind == "nul":
                raws.append(_event(message={"type": "text", "id": "1", "text": value}))
            else:
                raws.append(_event(**{kind: value}))
        raw = json.dumps({"destination": "U0", "events": raws}, ensure_ascii=False)
        expected = {200}
    else:
        raw, expected = junk, {400}
    response = post(line_client, raw)
    assert response.status_code in expected
    assert snapshot(line_app) == before


twilio_text = st.text(st.characters(codec="utf-8"), max_size=40)
twilio_paths = st.one_of(
    st.sampled_from(["/voice/incoming", "/voice/status", "/voice/fallback", "/voice/recording"]),
    st.builds(lambda s: f"/voice/step/menu?s={s}", st.one_of(st.integers(), twilio_text)),
    st.builds(lambda o, t: f"/voice/eta?order={o}&try={t}", st.one_of(st.integers(), twilio_text),
              st.one_of(st.integers(), twilio_text)))
twilio_forms = st.dictionaries(st.sampled_from(["From", "To", "Digits", "SpeechResult", "CallStatus",
                                                "CallDuration", "RecordingUrl", "RecordingDuration", "Confidence"]),
                               twilio_text, max_size=5)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=twilio_paths, form=twilio_forms,
       call_sid=st.one_of(st.just(""), st.text(min_size=65, max_size=80), st.text(max_size=64)))
def test_property_twilio_handler_never_500(voice_app, path, form, call_sid) -> None:  # noqa: F811
    from urllib.parse import quote

    client = voice_app.test_client()
    path = quote(path, safe="/?=&")
    before = snapshot(voice_app)
    params = dict(form, **({"CallSid": call_sid} if call_sid else {}))
    response = _twilio(client, path, params)
    assert response.status_code < 500, response.get_data(as_text=True)[:300]
    if response.status_code >= 400:   # refused: the request must have changed nothing
        assert snapshot(voice_app) == before
