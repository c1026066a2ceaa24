"""Twilio errors in RFC-9457 problem form (twilio 9.13 raises ``TwilioServiceException`` for a body with
type, title, status and code): classified like the classic ``TwilioRestException``, through the real
client against the fake Twilio on loopback and the real drain. A refusal that will never succeed dies at
once with Twilio's code and message on the staff dashboard; 429 (with Retry-After) and 5xx are retried.

Negative control: without the ``TwilioServiceException`` branch in ``voice.twilio_client.classify`` the
exception falls to the ``TwilioException`` catch-all and is retried, so the dead-at-once tests fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from twilio.base.exceptions import TwilioServiceException

from core.clock import FixedClock
from core.db import db
from otodoke import create_app, jobs
from outbox.models import OutboxStatus
from outbox.senders import Outcome
from sandbox.fake_twilio import FakeTwilio, serve
from tests.accounts_support import sign_in
from tests.outbox_support import outbox_row, queue_message
from tests.voice_sim import voice_config
from voice.twilio_client import classify

SMS = {"body": "お届け：ご注文を承りました。"}
NUMBER = "+819012345678"


@pytest.fixture
def twilio_app(database_url: str, clock: FixedClock, tmp_path: Path) -> Iterator[tuple[Flask, FakeTwilio]]:
    with serve() as (fake, url):
        fake.problem_details = True
        app = create_app(voice_config(database_url, tmp_path, TWILIO_API_BASE_URL=url), clock=clock)
        with app.app_context():
            yield app, fake
        db.bound(app).engine.dispose()


def _queue(app: Flask, channel: str = "sms", payload: dict | None = None, kind: str = "order_confirmed") -> str:
    return queue_message(app, channel, NUMBER, payload or SMS, kind)


@pytest.mark.parametrize("status,code", [(400, 21211), (400, 21610), (404, 20404)])
def test_a_problem_refusal_dies_at_once_with_twilios_code_shown_to_staff(twilio_app, status, code) -> None:
    app, fake = twilio_app
    message_id = _queue(app)
    fake.script.append((status, code))
    report = jobs.run_drain(app)
    assert report.dead == 1 and report.retried == 0
    row = outbox_row(app, message_id)
    assert row.status is OutboxStatus.DEAD and row.attempts == 1
    assert f"twilio {status} code={code}" in (row.last_error or "")
    assert "scripted failure" in (row.last_error or "")          # Twilio's title, kept for staff
    clock: FixedClock = app.extensions["core.clock"]
    clock.advance(timedelta(hours=2))
    assert jobs.run_drain(app).claimed == 0 and len(fake.messages()) == 1   # never tried again
    client = app.test_client()
    sign_in(client)
    page = client.get("/staff/?date=2026-12-01").get_data(as_text=True)
    assert "送れなかったメッセージ（要確認）" in page and "order_confirmed → sms" in page and str(code) in page


@pytest.mark.parametrize("status,code", [(500, 20500), (503, 20503)])
def test_a_problem_5xx_is_retried_then_sent_once(twilio_app, status, code) -> None:
    app, fake = twilio_app
    clock: FixedClock = app.extensions["core.clock"]
    message_id = _queue(app)
    fake.script.append((status, code))
    assert jobs.run_drain(app).retried == 1
    row = outbox_row(app, message_id)
    assert row.status is OutboxStatus.PENDING and f"twilio {status}" in (row.last_error or "")
    clock.advance(timedelta(hours=1))
    assert jobs.run_drain(app).sent == 1
    assert len(fake.created["Messages.json"]) == 1 and outbox_row(app, message_id).status is OutboxStatus.SENT


def test_a_problem_429_waits_for_retry_after(twilio_app) -> None:
    app, fake = twilio_app
    clock: FixedClock = app.extensions["core.clock"]
    fake.script.append((429, 20429))
    fake.retry_after_s = 600
    message_id = _queue(app, "voice", {"say": ["お届けです。まもなく伺います。"]})
    assert jobs.run_drain(app).retried == 1
    assert outbox_row(app, message_id).next_attempt_at >= clock.now() + timedelta(seconds=600)
    clock.advance(timedelta(seconds=590))
    assert jobs.run_drain(app).sent == 0 and len(fake.calls()) == 1
    clock.advance(timedelta(seconds=20))
    assert jobs.run_drain(app).sent == 1 and len(fake.created["Calls.json"]) == 1


def test_a_recording_deletion_answered_404_as_a_problem_is_done(twilio_app) -> None:
    app, fake = twilio_app
    sid = "RE" + "a" * 32
    message_id = _queue(app, "recording", {"recording_url": f"https://api.twilio.com/2010-04-01/Accounts/"
                                                            f"ACtest/Recordings/{sid}"}, kind="recording_delete")
    fake.script.append((404, 20404))
    assert jobs.run_drain(app).sent == 1
    assert outbox_row(app, message_id).status is OutboxStatus.SENT


def _problem(status: object, code: int = 21211) -> TwilioServiceException:
    return TwilioServiceException("https://www.twilio.com/docs/errors/21211", "Invalid 'To' Phone Number",
                                  status, code, detail="+81 0 is not valid", method="POST", uri="/Messages.json")


def test_classify_reads_a_problem_status_even_as_text_and_falls_back_to_the_answers() -> None:
    assert classify(_problem(400)).outcome is Outcome.DEAD
    assert classify(_problem("400")).outcome is Outcome.DEAD
    assert classify(_problem("nonsense"), http_status=400).outcome is Outcome.DEAD
    assert classify(_problem("nonsense")).outcome is Outcome.RETRY          # unknown: like a network error
    assert classify(_problem(503)).outcome is Outcome.RETRY
    late = classify(_problem(429), retry_after_s=30.0)
    assert late.outcome is Outcome.RETRY and late.retry_after_s == 30.0
    dead = classify(_problem(400))
    assert dead.detail == "twilio 400 code=21211: Invalid 'To' Phone Number – +81 0 is not valid"
