"""Twilio sends are reconciled before a retry (issue 12, hole 9): Twilio takes no idempotency key, so
an SMS or call whose answer was lost (a timeout, or the worker killed after its request) is looked up
by recipient, sender number, time and body before it is sent again, against the fake Twilio REST API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from otodoke import create_app, jobs
from core.db import db
from outbox.models import OutboxMessage, OutboxStatus
from outbox.service import enqueue
from voice import twilio_client
from sandbox.fake_twilio import FakeTwilio, serve
from voice.twilio_client import TwilioSettings
from tests.voice_sim import voice_config

TO = "+819012345678"
TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response><Say language="ja-JP">本日お届けします</Say></Response>'


@pytest.fixture
def twilio(database_url: str, clock: Any, tmp_path: Path) -> Iterator[tuple[Any, FakeTwilio]]:
    with serve() as (fake, url):
        app = create_app(voice_config(database_url, tmp_path, TWILIO_API_BASE_URL=url), clock=clock)
        with app.app_context():
            yield app, fake
        db.bound(app).engine.dispose()


def _queue(app: Any, channel: str, payload: dict[str, str]) -> str:
    with db.transaction(app) as session:
        message = enqueue(session, channel=channel, recipient=TO, kind="test", payload=payload,
                          now=app.extensions["core.clock"].now(), dedupe_key=f"test:{channel}")
        session.flush()
        return message.id


def _row(app: Any, message_id: str) -> OutboxMessage:
    with db.reading(app) as session:
        row = session.get(OutboxMessage, message_id)
        session.expunge(row)
        return row


@pytest.mark.parametrize("channel, payload", [("sms", {"body": "お届け：ご注文を承りました。"}),
                                              ("voice", {"twiml": TWIML})])
def test_a_send_whose_answer_was_lost_is_not_sent_again(twilio, channel, payload) -> None:
    app, fake = twilio
    clock = app.extensions["core.clock"]
    message_id = _queue(app, channel, payload)
    fake.lose_next_answer = True             # Twilio takes it; the answer never reaches us
    jobs.run_drain(app)
    assert _row(app, message_id).status is OutboxStatus.PENDING     # a retry is booked
    clock.advance(timedelta(hours=1))
    jobs.run_drain(app)
    row = _row(app, message_id)
    created = fake.created["Messages.json" if channel == "sms" else "Calls.json"]
    assert row.status is OutboxStatus.SENT and row.provider_ref == created[0]["sid"]
    assert len(fake.messages() + fake.calls()) == 1 and len(created) == 1       # once, not twice
    [lookup] = fake.lookups()
    assert lookup.form["To"] == TO and lookup.form["From"] == "+815011112222"


def test_a_worker_killed_after_sending_leaves_a_row_the_next_worker_reconciles(twilio) -> None:
    app, fake = twilio
    clock = app.extensions["core.clock"]
    message_id = _queue(app, "sms", {"body": "集荷リストです"})
    # The first worker leased the row and sent the SMS, then died before recording it.
    with db.transaction(app) as session:
        row = session.get(OutboxMessage, message_id)
        row.status, row.attempts = OutboxStatus.SENDING, 1
        row.first_attempt_at, row.lease_until = clock.now(), clock.now() + timedelta(seconds=120)
    settings = TwilioSettings.from_config(app.config)
    twilio_client.send_sms(twilio_client.make_client(settings), settings, to=TO, body="集荷リストです")
    clock.advance(timedelta(minutes=5))      # the lease runs out; the next worker claims the row
    jobs.run_drain(app)
    assert _row(app, message_id).status is OutboxStatus.SENT
    assert len(fake.messages()) == 1


def test_a_retry_after_a_refusal_that_sent_nothing_does_send(twilio) -> None:
    app, fake = twilio
    clock = app.extensions["core.clock"]
    message_id = _queue(app, "sms", {"body": "お届け：明日うかがいます。"})
    fake.script.append((503, 20500))         # refused: nothing was created
    jobs.run_drain(app)
    clock.advance(timedelta(hours=1))
    jobs.run_drain(app)
    assert _row(app, message_id).status is OutboxStatus.SENT
    assert len(fake.created["Messages.json"]) == 1 and len(fake.lookups()) == 1
