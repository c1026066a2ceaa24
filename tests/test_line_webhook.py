"""The webhook's contract with LINE: signatures, the Verify call, unknown events, duplicates, reply vs push."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import func, select

from bot import dispatch
from sandbox.line import sign
from orders.models import Order
from core.models import Conversation, ProcessedEvent
from outbox.models import OutboxMessage
from tests.line_support import (  # noqa: F401  (fixtures)
    NOW_MS, RESIDENT_USER, SECRET, body, line_app, line_client, line_fake, post, seed_town, session_of,
)


def _count(app, model) -> int:  # type: ignore[no-untyped-def]
    with session_of(app) as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def _forgeries(raw: str) -> list[tuple[str, str]]:
    good = sign(SECRET, raw)
    flipped = raw.replace("注文", "注义", 1) if "注文" in raw else raw[:-2] + " }"
    return [
        ("missing", ""),
        ("empty", " "),
        ("wrong secret", sign("another-channel-secret", raw)),
        ("access token as secret", sign("test-access-token", raw)),
        ("other body", sign(SECRET, raw + " ")),
        ("garbage", "not-base64-???"),
        ("non-ascii", "署名"),
        ("truncated", good[:-4]),
        ("one byte of the body flipped", sign(SECRET, flipped)),
        ("signature of the re-serialised body", base64.b64encode(b"x" * 32).decode()),
    ]


def test_forged_signatures_are_rejected_and_store_nothing(line_app, line_client, line_fake) -> None:
    seed_town(line_app)
    raw = body("text", text="注文する")
    for name, signature in _forgeries(raw):
        response = post(line_client, raw, signature=signature) if signature else \
            line_client.post("/line/callback", data=raw.encode(), headers={"Content-Type": "application/json"})
        assert response.status_code == 400, name
    assert _count(line_app, ProcessedEvent) == 0
    assert _count(line_app, Conversation) == 0
    assert _count(line_app, OutboxMessage) == 0
    assert line_fake.fake.calls == []
    # The same body correctly signed goes through: the rejections above were about the signature.
    assert post(line_client, raw).status_code == 200
    assert _count(line_app, ProcessedEvent) == 1


def test_reserialised_body_fails_the_signature(line_app, line_client) -> None:
    import json
    raw = body("text", text="こんにちは")
    reserialised = json.dumps(json.loads(raw))
    assert post(line_client, reserialised, signature=sign(SECRET, raw)).status_code == 400


def test_verify_call_with_no_events_is_ok(line_app, line_client, line_fake) -> None:
    assert post(line_client, body("verify")).status_code == 200
    assert line_fake.fake.calls == []
    assert _count(line_app, ProcessedEvent) == 0


def test_signed_non_webhook_body_is_400(line_app, line_client) -> None:
    assert post(line_client, "not json").status_code == 400
    assert post(line_client, '{"destination": "U1"}').status_code == 400


def test_unknown_event_types_answer_200_and_do_nothing(line_app, line_client, line_fake) -> None:
    seed_town(line_app)
    assert post(line_client, body("unknown")).status_code == 200
    assert line_fake.fake.calls == []
    assert _count(line_app, ProcessedEvent) == 0
    assert _count(line_app, Conversation) == 0


def test_follow_greets_by_reply(line_app, line_client, line_fake) -> None:
    raw = body("follow", user="U00000000000000000000000000000new", reply_token="tok-follow")
    assert post(line_client, raw).status_code == 200
    [reply] = line_fake.fake.replies()
    assert reply.body["replyToken"] == "tok-follow"
    assert "友だち追加" in reply.body["messages"][0]["text"]
    assert reply.headers.get("Authorization") == "Bearer test-access-token"


def test_replayed_event_does_nothing_twice(line_app, line_client, line_fake) -> None:
    town = seed_town(line_app)
    eid = "01JEREPLAY000000000000000A"
    raw = body("text", event_id=eid, text="大根2本")
    assert post(line_client, raw).status_code == 200
    again = body("text", event_id=eid, text="大根2本", redelivery="true", reply_token="tok-2")
    assert post(line_client, again).status_code == 200
    assert post(line_client, raw).status_code == 200
    assert _count(line_app, ProcessedEvent) == 1
    assert len(line_fake.fake.replies()) == 1
    with session_of(line_app) as s:
        # The answer's standby push (issue 12, hole 7) is settled by the confirmed reply: nothing to send.
        assert [(r.status.value, r.provider_ref) for r in s.scalars(select(OutboxMessage))] == [("sent", "reply")]
        conv = s.scalars(select(Conversation)).one()
        assert conv.state["basket"] == [[town.daikon_id, 2]]


def test_expired_reply_token_falls_back_to_one_push(line_app, line_client, line_fake) -> None:
    from outbox.senders import Outcome
    from bot.sender import LineSender
    from bot.line_client import line_api
    seed_town(line_app)
    line_fake.fake.expired_tokens.add("tok-expired")
    eid = "01JEEXPIRED000000000000000"
    assert post(line_client, body("text", event_id=eid, text="最初から", reply_token="tok-expired")).status_code == 200
    assert line_fake.fake.replies() == []
    with session_of(line_app) as s:
        row = s.scalars(select(OutboxMessage)).one()
        assert row.id == dispatch.retry_key(eid)
        assert row.recipient == RESIDENT_USER
    sender = LineSender(line_api(line_app))
    assert sender.send(row).outcome is Outcome.SENT
    assert sender.send(row).outcome is Outcome.SENT   # a resend: LINE answers 409, counted as sent
    [push] = line_fake.fake.pushes()
    assert push.headers["X-Line-Retry-Key"] == dispatch.retry_key(eid)
    assert [c.status for c in line_fake.fake.pushes(ok_only=False)] == [200, 409]
    assert "ご用件" in push.body["messages"][0]["text"]


def test_redelivered_or_old_event_is_answered_by_push(line_app, line_client, line_fake) -> None:
    seed_town(line_app)
    post(line_client, body("text", text="最初から", redelivery="true"))
    post(line_client, body("text", text="最初から", ts=NOW_MS - 5 * 60_000))
    assert line_fake.fake.calls == []
    assert _count(line_app, OutboxMessage) == 2


@pytest.mark.parametrize("status,outcome", [(500, "retry"), (503, "retry"), (429, "retry"),
                                            (400, "dead"), (401, "dead"), (403, "dead")])
def test_sender_classifies_line_answers(line_app, line_fake, status, outcome) -> None:
    from bot.line_client import line_api
    from bot.sender import LineSender
    from outbox.models import OutboxStatus
    line_fake.fake.push_failures.append(status)
    line_fake.fake.retry_after_s = 7
    row = OutboxMessage(id="5b0c2a0e-1111-4a5b-9c3d-000000000001", channel="line", recipient=RESIDENT_USER,
                        kind="test", payload={"messages": [{"type": "text", "text": "テスト"}]},
                        status=OutboxStatus.PENDING)
    result = LineSender(line_api(line_app)).send(row)
    assert result.outcome.value == outcome
    if status == 429:
        assert result.retry_after_s == 7
    if outcome == "dead":
        assert str(status) in result.detail


def test_sender_marks_unreachable_line_for_retry(line_app, line_fake) -> None:
    from bot.line_client import LineApi
    from bot.sender import LineSender
    line_fake.stop()
    row = OutboxMessage(id="5b0c2a0e-1111-4a5b-9c3d-000000000002", channel="line", recipient=RESIDENT_USER,
                        kind="test", payload={"messages": [{"type": "text", "text": "テスト"}]})
    result = LineSender(LineApi(access_token="t", host=line_fake.url)).send(row)
    assert result.outcome.value == "retry"


def test_sender_refuses_an_invalid_body_without_calling_line(line_app, line_fake) -> None:
    from bot.line_client import line_api
    from bot.sender import LineSender
    row = OutboxMessage(id="5b0c2a0e-1111-4a5b-9c3d-000000000003", channel="line", recipient=RESIDENT_USER,
                        kind="test", payload={"messages": [{"type": "text", "text": str(i)} for i in range(6)]})
    assert LineSender(line_api(line_app)).send(row).outcome.value == "dead"
    assert line_fake.fake.calls == []
    _ = Order  # imported for the order tests' shared helpers


def test_loading_animation_is_sent_in_steps_of_five_seconds(line_app, line_fake) -> None:
    from bot.line_client import line_api
    result = line_api(line_app).show_loading(RESIDENT_USER, seconds=7)
    assert result.ok
    [call] = line_fake.fake.calls
    assert call.path == "/v2/bot/chat/loading/start"
    assert call.body == {"chatId": RESIDENT_USER, "loadingSeconds": 10}


def test_without_line_credentials_and_the_sandbox_off_no_event_is_accepted(client) -> None:
    """The sandbox's secret is in the repository: an instance with no LINE channel (production, or the
    sandbox switched off) must refuse events signed with it, before touching anything."""
    from bot import SANDBOX_SECRET
    from core.db import db

    raw = body("follow")
    response = post(client, raw, secret=SANDBOX_SECRET)
    assert response.status_code == 403
    assert b"not configured" in response.data
    with db.bound(client.application).sessions() as s:
        assert s.scalars(select(ProcessedEvent)).all() == []
