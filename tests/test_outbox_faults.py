"""Issue 12, faults: LINE and Twilio answering 429 (with Retry-After), 500 and not at all, through the real
SDK clients against the fake APIs on loopback and the real drain; and what staff see when a message
cannot be sent. (Already covered elsewhere: the senders' classification, test_line_webhook and
test_voice_sender; a long LINE 500 outage, test_line_reliability and test_outbox_outage; Twilio
reconciliation after a lost answer, test_twilio_reconcile; backoff arithmetic, test_outbox_worker.)

Negative controls: ``retry_delay`` ignoring ``retry_after_s`` fails the 429 tests (the retry comes
before LINE or Twilio asked); so does ``voice.twilio_client.failed`` dropping the client's Retry-After; the dashboard without its 送れなかったメッセージ block fails the dead-letter tests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from bot.line_client import READ_TIMEOUT_S
from core.clock import FixedClock
from core.db import db
from otodoke import create_app, jobs
from outbox.models import OutboxMessage, OutboxStatus
from sandbox.fake_line import FakeLine, RunningFake, _Handler
from sandbox.fake_twilio import FakeTwilio, serve as serve_twilio
from tests.accounts_support import sign_in
from tests.outbox_support import outbox_row, queue_message
from tests.line_support import RESIDENT_USER, line_app  # noqa: F401  (fixture)
from tests.voice_sim import voice_config


class SlowFirstPush(_Handler):
    """The fake LINE API; while ``slow`` is set, a push is accepted (its retry key recorded) but the
    answer comes only after the client's read timeout, as when LINE is slow or the answer is lost."""

    slow = threading.Event()

    def _answer(self) -> None:
        if self.path.endswith("/message/push") and self.slow.is_set():
            self.slow.clear()
            length = int(self.headers.get("Content-Length") or 0)
            self.fake.handle(self.command, self.path, dict(self.headers.items()), self.rfile.read(length))
            time.sleep(READ_TIMEOUT_S + 1)
            self.close_connection = True
            return
        super()._answer()

    do_GET = do_POST = do_DELETE = _answer   # noqa: N815


@pytest.fixture
def line_fake() -> Iterator[RunningFake]:
    """Overrides line_support's: the same fake behind a handler that can be slow once."""
    fake = FakeLine()
    handler = type("SlowFakeLine", (SlowFirstPush,), {"fake": fake, "slow": threading.Event()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    running = RunningFake(fake, server, thread)
    running.handler = handler  # type: ignore[attr-defined]
    yield running
    running.stop()


TEXT = {"messages": [{"type": "text", "text": "ご注文を承りました。"}]}


def test_line_429_waits_for_retry_after_then_delivers_once(line_app, line_fake) -> None:  # noqa: F811
    clock: FixedClock = line_app.extensions["core.clock"]
    fake = line_fake.fake
    fake.push_failures.append(429)
    fake.retry_after_s = 600           # far beyond the first backoff step (seconds)
    message_id = queue_message(line_app, "line", RESIDENT_USER, TEXT)
    assert jobs.run_drain(line_app).sent == 0
    row = outbox_row(line_app, message_id)
    assert row.status is OutboxStatus.PENDING and "429" in (row.last_error or "")
    assert row.next_attempt_at >= clock.now() + timedelta(seconds=600)
    clock.advance(timedelta(seconds=590))
    assert jobs.run_drain(line_app).sent == 0 and len(fake.calls) == 1    # LINE's wait is kept
    clock.advance(timedelta(seconds=20))
    assert jobs.run_drain(line_app).sent == 1
    clock.advance(timedelta(hours=1))
    assert jobs.run_drain(line_app).sent == 0
    assert [c.status for c in fake.calls] == [429, 200]
    assert {c.headers["X-Line-Retry-Key"] for c in fake.calls} == {message_id}
    assert len(fake.delivered(RESIDENT_USER)) == 1


def test_line_timeout_after_accepting_is_retried_with_the_key_and_shown_once(line_app, line_fake) -> None:  # noqa: F811
    clock: FixedClock = line_app.extensions["core.clock"]
    fake = line_fake.fake
    line_fake.handler.slow.set()
    message_id = queue_message(line_app, "line", RESIDENT_USER, TEXT)
    assert jobs.run_drain(line_app).sent == 0            # read timeout: the outcome is unknown
    row = outbox_row(line_app, message_id)
    assert row.status is OutboxStatus.PENDING and row.last_error
    clock.advance(timedelta(hours=1))
    assert jobs.run_drain(line_app).sent == 1             # the same key again: LINE answers 409
    assert [c.status for c in fake.calls] == [200, 409]
    assert {c.headers["X-Line-Retry-Key"] for c in fake.calls} == {message_id}
    assert len(fake.delivered(RESIDENT_USER)) == 1
    assert outbox_row(line_app, message_id).status is OutboxStatus.SENT


def _dashboard(app: Flask) -> str:
    client = app.test_client()
    sign_in(client)
    return client.get("/staff/?date=2026-12-01").get_data(as_text=True)


def test_line_messages_that_die_are_listed_for_staff(line_app, line_fake) -> None:  # noqa: F811
    clock: FixedClock = line_app.extensions["core.clock"]
    line_app.config["OUTBOX_MAX_ATTEMPTS"] = 3
    fake = line_fake.fake
    assert "送れなかったメッセージ" not in _dashboard(line_app)
    refused = queue_message(line_app, "line", RESIDENT_USER, TEXT, kind="order_confirmed")
    fake.push_failures.append(400)                         # LINE refuses the body: dead at once
    jobs.run_drain(line_app)
    assert outbox_row(line_app, refused).status is OutboxStatus.DEAD
    down = queue_message(line_app, "line", RESIDENT_USER, TEXT, kind="eta_notice")
    fake.push_down_status = 500                            # LINE down past the attempts allowed
    for _ in range(5):
        jobs.run_drain(line_app)
        clock.advance(timedelta(hours=1))
    assert outbox_row(line_app, down).status is OutboxStatus.DEAD
    assert fake.delivered() == []
    page = _dashboard(line_app)
    assert "送れなかったメッセージ（要確認）" in page
    assert "order_confirmed → line" in page and "400" in page
    assert "eta_notice → line" in page and "500" in page
    assert "送れなかった 2件" in page


@pytest.fixture
def twilio_app(database_url: str, clock: FixedClock, tmp_path: Path) -> Iterator[tuple[Flask, FakeTwilio]]:
    with serve_twilio() as (fake, url):
        app = create_app(voice_config(database_url, tmp_path, TWILIO_API_BASE_URL=url), clock=clock)
        with app.app_context():
            yield app, fake
        db.bound(app).engine.dispose()


def test_twilio_429_then_500_is_retried_with_backoff_and_sent_once(twilio_app) -> None:
    app, fake = twilio_app
    clock: FixedClock = app.extensions["core.clock"]
    message_id = queue_message(app, "sms", "+819012345678", {"body": "お届け：ご注文を承りました。"})
    fake.script.extend([(429, 20429), (500, 20500)])
    assert jobs.run_drain(app).sent == 0
    first_retry = outbox_row(app, message_id).next_attempt_at
    assert first_retry > clock.now()
    assert jobs.run_drain(app).sent == 0 and len(fake.requests) == 1     # not before its time
    clock.advance(timedelta(hours=1))
    assert jobs.run_drain(app).sent == 0                                 # 500 this time
    row = outbox_row(app, message_id)
    assert row.status is OutboxStatus.PENDING and "500" in (row.last_error or "")
    clock.advance(timedelta(hours=1))
    assert jobs.run_drain(app).sent == 1
    clock.advance(timedelta(hours=1))
    assert jobs.run_drain(app).sent == 0
    assert len(fake.created["Messages.json"]) == 1
    assert outbox_row(app, message_id).status is OutboxStatus.SENT


@pytest.mark.parametrize("channel,payload", [("sms", {"body": "お届け：ご注文を承りました。"}),
                                             ("voice", {"say": ["お届けです。まもなく伺います。"]})])
def test_twilio_429_waits_for_retry_after_then_sends_once(twilio_app, channel, payload) -> None:
    """The twilio library's exception carries no headers; the client's HTTP layer keeps the 429's
    ``Retry-After`` (``voice.twilio_client.RetryAfterHttpClient``) and the outbox waits that long."""
    app, fake = twilio_app
    clock: FixedClock = app.extensions["core.clock"]
    fake.script.append((429, 20429))
    fake.retry_after_s = 600           # far beyond the first backoff step (seconds)
    message_id = queue_message(app, channel, "+819012345678", payload)
    assert jobs.run_drain(app).sent == 0
    row = outbox_row(app, message_id)
    assert row.status is OutboxStatus.PENDING and "429" in (row.last_error or "")
    assert row.next_attempt_at >= clock.now() + timedelta(seconds=600)
    clock.advance(timedelta(seconds=590))
    assert jobs.run_drain(app).sent == 0 and len(fake.requests) == 1    # Twilio's wait is kept
    clock.advance(timedelta(seconds=20))
    assert jobs.run_drain(app).sent == 1
    clock.advance(timedelta(hours=1))
    assert jobs.run_drain(app).sent == 0
    created = fake.created["Messages.json" if channel == "sms" else "Calls.json"]
    assert len(created) == 1 and outbox_row(app, message_id).status is OutboxStatus.SENT


def test_an_sms_twilio_refuses_is_listed_for_staff(twilio_app) -> None:
    app, fake = twilio_app
    message_id = queue_message(app, "sms", "+819012345678", {"body": "お届け：ご注文を承りました。"})
    fake.script.append((400, 21211))          # not a valid phone number: never retried
    jobs.run_drain(app)
    assert outbox_row(app, message_id).status is OutboxStatus.DEAD
    page = _dashboard(app)
    assert "送れなかったメッセージ（要確認）" in page and "order_confirmed → sms" in page and "21211" in page
    with db.reading(app) as session:
        assert session.scalars(select(OutboxMessage.attempts)).one() == 1
