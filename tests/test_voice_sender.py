"""SMS and outbound-call senders against a fake Twilio REST server on 127.0.0.1, and the SMS
confirmation of a phone order going all the way from the call to the (fake) Twilio API."""

from __future__ import annotations

import socket
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from otodoke import create_app
from core.db import db
from outbox.models import OutboxMessage
from outbox.senders import Outcome
from residents.models import FamilyLink
from sandbox.fake_twilio import serve
from voice.sender import TwilioSmsSender, TwilioVoiceSender
from voice.twilio_client import TwilioSettings
from tests.voice_sim import RESIDENT_MOBILE, RESIDENT_PHONE, CallSim, seed_town, voice_config

NOW = datetime(2026, 11, 30, 23, 0, tzinfo=timezone.utc)


def _message(channel: str, payload: dict[str, Any], to: str = "+819012345678") -> OutboxMessage:
    return OutboxMessage(id=1, channel=channel, recipient=to, kind="test", payload=payload, attempts=0,
                         next_attempt_at=NOW, created_at=NOW)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sms_sent_through_the_real_client() -> None:
    with serve() as (fake, url):
        sender = TwilioSmsSender(TwilioSettings("ACtest", "token", "+815011112222", base_url=url))
        result = sender.send(_message("sms", {"body": "お届け：ご注文を承りました。"}))
        assert result.outcome is Outcome.SENT and (result.provider_ref or "").startswith("SM")
        [request] = fake.messages()
        assert request.form == {"To": "+819012345678", "From": "+815011112222",
                                "Body": "お届け：ご注文を承りました。"}
        assert request.account_sid == "ACtest"


@pytest.mark.parametrize("status, code, outcome", [
    (503, 20500, Outcome.RETRY), (429, 20429, Outcome.RETRY), (400, 21211, Outcome.DEAD),
    (401, 20003, Outcome.DEAD), (404, 20404, Outcome.DEAD),
])
def test_sms_failures_are_classified(status: int, code: int, outcome: Outcome) -> None:
    with serve() as (fake, url):
        fake.script.append((status, code))
        sender = TwilioSmsSender(TwilioSettings("ACtest", "token", "+815011112222", base_url=url))
        result = sender.send(_message("sms", {"body": "x"}))
        assert result.outcome is outcome and str(status) in result.detail


def test_unreachable_twilio_is_temporary() -> None:
    sender = TwilioSmsSender(TwilioSettings("ACtest", "token", "+815011112222",
                                            base_url=f"http://127.0.0.1:{_free_port()}"))
    assert sender.send(_message("sms", {"body": "x"})).outcome is Outcome.RETRY


def test_bad_payloads_are_dead_without_calling_twilio() -> None:
    with serve() as (fake, url):
        settings = TwilioSettings("ACtest", "token", "+815011112222", base_url=url)
        assert TwilioSmsSender(settings).send(_message("sms", {})).outcome is Outcome.DEAD
        assert TwilioVoiceSender(settings).send(_message("voice", {"body": "x"})).outcome is Outcome.DEAD
        assert fake.requests == []


def test_outbound_call_carries_the_twiml() -> None:
    twiml = '<?xml version="1.0" encoding="UTF-8"?><Response><Say language="ja-JP">テスト</Say></Response>'
    with serve() as (fake, url):
        settings = TwilioSettings("ACtest", "token", "+815011112222", base_url=url,
                                  status_callback="https://otodoke.example.jp/voice/status")
        result = TwilioVoiceSender(settings).send(_message("voice", {"twiml": twiml}))
        assert result.outcome is Outcome.SENT
        [request] = fake.calls()
        assert request.form["Twiml"] == twiml
        assert request.form["StatusCallback"] == "https://otodoke.example.jp/voice/status"


def test_sentences_to_say_become_a_slow_japanese_call_in_the_configured_voice() -> None:
    """The domains queue words ({"say": [...]}); the phone line's sender turns them into TwiML."""
    from voice.twiml import VoiceStyle, spoken_sentences
    with serve() as (fake, url):
        settings = TwilioSettings("ACtest", "token", "+815011112222", base_url=url)
        sender = TwilioVoiceSender(settings, style=VoiceStyle(voice="Google.ja-JP-Standard-A", rate="80%"))
        result = sender.send(_message("voice", {"say": ["お届けサービスです。", "明日のお届けはありません。"]}))
        assert result.outcome is Outcome.SENT
        [request] = fake.calls()
        sent = request.form["Twiml"]
        assert 'language="ja-JP"' in sent and 'voice="Google.ja-JP-Standard-A"' in sent and "80%" in sent
        assert spoken_sentences(sent)[:2] == ["お届けサービスです。", "明日のお届けはありません。"]
        assert TwilioVoiceSender(settings).send(_message("voice", {"say": []})).outcome is Outcome.DEAD
        assert len(fake.calls()) == 1


def test_phone_order_sms_reaches_twilio(database_url: str, clock: Any, tmp_path: Path) -> None:
    from outbox.registry import senders_for
    from outbox.worker import drain

    with serve() as (fake, url):
        app = create_app(voice_config(database_url, tmp_path, TWILIO_API_BASE_URL=url), clock=clock)
        try:
            with app.app_context():
                seed_town(app)
                assert {"sms", "voice"} <= set(senders_for(app))
                call = CallSim(app.test_client(), RESIDENT_PHONE)
                call.dial_in()
                call.press("1")
                call.press("1")
                report = drain(lambda: db.transaction(app), senders_for(app), clock.now)
                assert report.claimed >= 1
                [sms] = fake.messages()
                assert sms.form["To"] == RESIDENT_MOBILE and "ご注文を承りました" in sms.form["Body"]
                with db.reading(app) as session:
                    row = session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "sms")).one()
                    assert row.status.value == "sent"
        finally:
            db.bound(app).engine.dispose()


def test_phone_order_without_mobile_reaches_family(voice_app: Any) -> None:
    town = seed_town(voice_app, mobile=None)
    with db.transaction(voice_app) as session:
        session.add(FamilyLink(resident_id=town.resident_id, line_user_id="U" + "f" * 32, name="長井 一郎",
                               relation="息子", notify=True, linked_at=NOW))
    call = CallSim(voice_app.test_client(), RESIDENT_PHONE)
    call.dial_in()
    call.press("1")
    call.press("1")
    with db.reading(voice_app) as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "order_confirmed")).all()
    assert [(r.channel, r.recipient) for r in rows] == [("line", "U" + "f" * 32)]
    assert "長井 花子さんの" in rows[0].payload["messages"][0]["text"]


from tests.voice_sim import voice_app  # noqa: E402,F401  (fixture)


RECORDING_URL = "https://api.twilio.com/2010-04-01/Accounts/ACtest/Recordings/RE" + "a" * 32


@pytest.mark.parametrize("status, code, outcome", [
    (None, None, Outcome.SENT), (404, 20404, Outcome.SENT), (500, 20500, Outcome.RETRY),
    (429, 20429, Outcome.RETRY), (401, 20003, Outcome.DEAD),
])
def test_a_recording_deletion_is_one_delete_and_404_means_done(status: int | None, code: int | None,
                                                               outcome: Outcome) -> None:
    from voice.sender import TwilioRecordingDeleter
    with serve() as (fake, url):
        if status is not None:
            fake.script.append((status, code))
        sender = TwilioRecordingDeleter(TwilioSettings("ACtest", "token", "+815011112222", base_url=url))
        result = sender.send(_message("recording", {"recording_url": RECORDING_URL + ".mp3"}, to="voice_message:1"))
        assert result.outcome is outcome
        [request] = fake.recording_deletes()
        assert request.path == "/2010-04-01/Accounts/ACtest/Recordings/RE" + "a" * 32 + ".json"
        if outcome is Outcome.SENT:
            assert result.provider_ref == "RE" + "a" * 32


def test_a_deletion_without_a_twilio_recording_url_is_dead_without_calling_twilio() -> None:
    from voice.sender import TwilioRecordingDeleter
    with serve() as (fake, url):
        sender = TwilioRecordingDeleter(TwilioSettings("ACtest", "token", "+815011112222", base_url=url))
        for payload in ({}, {"recording_url": "https://api.twilio.example/rec/RE1"}, {"recording_url": 7}):
            assert sender.send(_message("recording", payload)).outcome is Outcome.DEAD
        assert fake.requests == []


def test_a_retry_after_twilio_might_send_is_read_in_seconds_and_nonsense_ignored() -> None:
    """Seconds only (any case of the name, as requests gives them); an HTTP date, a negative or an
    infinite wait falls back to the normal backoff instead of breaking the outbox's date arithmetic."""
    from requests.structures import CaseInsensitiveDict

    from voice.twilio_client import _retry_after_s

    assert _retry_after_s(CaseInsensitiveDict({"retry-after": "30"})) == 30.0
    for value in ("Fri, 04 Dec 2026 20:00:00 GMT", "-5", "inf", "nan", ""):
        assert _retry_after_s(CaseInsensitiveDict({"Retry-After": value})) is None, value
    assert _retry_after_s(None) is None and _retry_after_s(CaseInsensitiveDict()) is None
