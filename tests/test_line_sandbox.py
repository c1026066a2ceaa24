"""The /sandbox/line page: it signs events like LINE, and the bot's replies and pushes come back through
the in-app fake LINE API (reached over real HTTP, as the worker process would)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from benchmarks.taps import sandbox_app as served_sandbox
from otodoke import create_app
from core.clock import FixedClock
from core.db import db
from tests.line_support import RESIDENT_USER, seed_town


@pytest.fixture
def sandbox_app(database_url: str, clock: FixedClock, tmp_path: Path) -> Iterator[Flask]:
    """The app with the LINE sandbox on, served over HTTP (the same set-up ``make bench-taps`` walks)."""
    with served_sandbox(database_url, clock, str(tmp_path)) as app:
        yield app


def _say(client: Any, **params: Any) -> None:
    made = client.post("/sandbox/line/event", json=params).get_json()
    response = client.post("/line/callback", data=made["body"].encode("utf-8"),
                           headers={"Content-Type": "application/json", "X-Line-Signature": made["signature"]})
    from bot.dispatch import flush_replies
    flush_replies()    # the reply leaves on the reply pool just after the response
    assert response.status_code == 200


def _inbox(client: Any, user: str) -> list[dict[str, Any]]:
    return client.get(f"/sandbox/line/inbox?user={user}&after=0").get_json()["messages"]


def test_sandbox_is_announced_and_lists_demo_users(sandbox_app) -> None:
    seed_town(sandbox_app)
    client = sandbox_app.test_client()
    assert sandbox_app.config["LINE_SANDBOX"] is True
    assert sandbox_app.config["LINE_API_HOST"].endswith("/sandbox/line-api")
    assert "LINE サンドボックス" in client.get("/").get_data(as_text=True)
    page = client.get("/sandbox/line").get_data(as_text=True)
    assert "はじめての利用者" in page and RESIDENT_USER in page


def test_sandbox_conversation_round_trip(sandbox_app) -> None:
    seed_town(sandbox_app)
    client = sandbox_app.test_client()
    _say(client, user=RESIDENT_USER, type="text", text="大根2本")
    [reply] = _inbox(client, RESIDENT_USER)
    assert reply["kind"] == "reply" and "大根 2本" in json.dumps(reply["messages"], ensure_ascii=False)
    _say(client, user=RESIDENT_USER, type="postback", data="a=confirm&w=pm")
    assert "承りました" in json.dumps(_inbox(client, RESIDENT_USER)[-1], ensure_ascii=False)


def test_sandbox_receives_pushes_from_the_outbox(sandbox_app) -> None:
    from outbox.registry import senders_for
    from outbox.worker import drain
    seed_town(sandbox_app)
    client = sandbox_app.test_client()
    _say(client, user=RESIDENT_USER, type="text", text="大根1本")
    _say(client, user=RESIDENT_USER, type="postback", data="a=confirm&w=pm")   # queues a confirmation push
    clock = sandbox_app.extensions["core.clock"]
    report = drain(lambda: db.transaction(sandbox_app), {"line": senders_for(sandbox_app)["line"]}, clock.now)
    assert report.sent >= 1
    assert any(m["kind"] == "push" for m in _inbox(client, RESIDENT_USER))


def test_sandbox_registration_with_a_map_pin(sandbox_app) -> None:
    seed_town(sandbox_app)
    client = sandbox_app.test_client()
    user = "Usandbox0000000000000000000000new"
    for params in ({"type": "follow"}, {"type": "postback", "data": "a=reg"},
                   {"type": "text", "text": "試し 太郎"}, {"type": "text", "text": "ためし たろう"}):
        _say(client, user=user, **params)
    district = [i for i in json.dumps(_inbox(client, user)[-1]).split('"') if i.startswith("a=regd")][0]
    _say(client, user=user, type="postback", data=district)
    _say(client, user=user, type="text", text="長井市栄町1-1")
    _say(client, user=user, type="location", lat="38.1050", lon="140.0400", address="長井市")
    assert "お電話" in json.dumps(_inbox(client, user)[-1], ensure_ascii=False)


def test_sandbox_is_off_by_default_in_tests_and_with_real_credentials(app) -> None:
    assert app.config["LINE_SANDBOX"] is False
    assert "line" not in app.extensions.get("otodoke.senders", {})
    assert app.test_client().get("/sandbox/line").status_code == 404
    real = create_app({"TESTING": False, "DATABASE_URL": app.config["DATABASE_URL"],
                       "LINE_CHANNEL_SECRET": "s", "LINE_CHANNEL_ACCESS_TOKEN": "t", "LINE_SANDBOX": ""})
    assert real.config["LINE_SANDBOX"] is False and "line" in real.extensions["otodoke.senders"]
    assert real.config["LINE_API_HOST"] is None       # the SDK's default: api.line.me
    db.bound(real).engine.dispose()
