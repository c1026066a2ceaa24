"""A resident's erasure deletes their call recordings at Twilio too, through the outbox, against the fake
Twilio REST server: one DELETE per recording and only after the erasure commits, a 500 retried until it
goes through, a 404 taken as done, every step audited; on both databases."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any, Iterator

import pytest
from flask import Flask
from sqlalchemy import select

from otodoke import create_app
from core.db import db
from core.models import AuditEntry
from outbox.models import OutboxMessage, OutboxStatus
from outbox.registry import senders_for
from outbox.worker import drain
from residents import privacy
from residents.models import VoiceMessage
from sandbox.fake_twilio import FakeTwilio, serve
from tests.voice_sim import RESIDENT_MOBILE, RESIDENT_PHONE, UNKNOWN_PHONE, seed_town, voice_config

SIDS = ["RE" + "1" * 32, "RE" + "2" * 32]
NEIGHBOUR_SID = "RE" + "9" * 32


def _url(sid: str) -> str:
    return f"https://api.twilio.com/2010-04-01/Accounts/ACtest/Recordings/{sid}"


@pytest.fixture
def twilio(database_url: str, clock: Any, tmp_path: Path) -> Iterator[tuple[Flask, FakeTwilio, int]]:
    """The app pointed at a fake Twilio; the resident left two recordings (landline and mobile), a
    stranger one. Yields (app, fake, resident id)."""
    with serve() as (fake, url):
        app = create_app(voice_config(database_url, tmp_path, TWILIO_API_BASE_URL=url), clock=clock)
        try:
            with app.app_context():
                town = seed_town(app, with_history=False)
                with db.transaction(app) as session:
                    for n, (number, sid) in enumerate([(RESIDENT_PHONE, SIDS[0]), (RESIDENT_MOBILE, SIDS[1]),
                                                       (UNKNOWN_PHONE, NEIGHBOUR_SID)]):
                        session.add(VoiceMessage(call_sid=f"CArec{n}", from_number=number, purpose="callback",
                                                 recording_url=_url(sid), recording_seconds=9,
                                                 created_at=clock.now() - timedelta(days=1)))
                yield app, fake, town.resident_id
        finally:
            db.bound(app).engine.dispose()


def _erase(app: Flask, resident_id: int) -> None:
    with db.transaction(app) as session:
        privacy.erase_resident(session, resident_id=resident_id, parts=privacy.parts_of(app), actor="staff:test",
                               channel="staff", now=_now(app))


def _now(app: Flask) -> Any:
    from core.clock import get_clock
    return get_clock(app).now()


def _drain(app: Flask) -> Any:
    return drain(lambda: db.transaction(app), senders_for(app), lambda: _now(app))


def _deleted_sids(fake: FakeTwilio) -> list[str]:
    return sorted(r.path.rsplit("/", 1)[1].removesuffix(".json") for r in fake.recording_deletes())


def _rows(app: Flask) -> list[OutboxMessage]:
    with db.reading(app) as session:
        return list(session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "recording")))


def test_erasure_deletes_each_recording_at_twilio_once_after_commit(twilio) -> None:
    app, fake, resident_id = twilio
    assert "recording" in senders_for(app)

    # Inside the erasure's transaction nothing reaches Twilio; rolled back, nothing ever does.
    with pytest.raises(RuntimeError):
        with db.transaction(app) as session:
            privacy.erase_resident(session, resident_id=resident_id, parts=privacy.parts_of(app),
                                   actor="staff:test", channel="staff", now=_now(app))
            assert fake.recording_deletes() == []
            raise RuntimeError("the request failed after the erasure")
    _drain(app)
    assert fake.recording_deletes() == [] and _rows(app) == []

    _erase(app, resident_id)
    _drain(app)
    _drain(app)                                   # a second drain finds nothing left to do
    assert _deleted_sids(fake) == SIDS            # theirs, once each; the stranger's recording stays
    assert all(r.account_sid == "ACtest" and r.path.startswith("/2010-04-01/Accounts/ACtest/Recordings/")
               for r in fake.recording_deletes())
    rows = _rows(app)
    assert [r.status for r in rows] == [OutboxStatus.SENT] * 2 and sorted(r.provider_ref for r in rows) == SIDS
    with db.reading(app) as session:
        calls = {m.from_number: m.recording_url for m in session.scalars(select(VoiceMessage))}
        assert calls == {"": None, UNKNOWN_PHONE: _url(NEIGHBOUR_SID)}
        audit = session.scalars(select(AuditEntry).where(AuditEntry.subject_type == "outbox")).all()
        queued = {e.subject_id for e in audit if e.action == "privacy.recording_delete"}
        done = {e.subject_id for e in audit if e.action == "outbox.sent"}
        assert queued == done == {r.id for r in rows}
        # ids only in the audit trail: no number, no recording address
        assert not any(SIDS[0] in str(e.data) or RESIDENT_PHONE in str(e.data) for e in audit)


def test_a_failed_delete_is_retried_until_twilio_takes_it(twilio, clock) -> None:
    app, fake, resident_id = twilio
    fake.script.extend([(500, 20500), (503, 20503)])       # the first two DELETEs fail
    _erase(app, resident_id)
    report = _drain(app)
    assert report.retried == 2 and report.sent == 0
    rows = _rows(app)
    assert {r.status for r in rows} == {OutboxStatus.PENDING} and all("500" in (r.last_error or "")
                                                                       or "503" in (r.last_error or "")
                                                                       for r in rows)
    clock.advance(timedelta(hours=1))                      # past any backoff
    report = _drain(app)
    assert report.sent == 2
    assert {r.status for r in _rows(app)} == {OutboxStatus.SENT}
    assert _deleted_sids(fake) == sorted(SIDS * 2)         # each one failed once, then went through
    assert fake.deleted_recordings == set(SIDS)


def test_a_recording_already_gone_at_twilio_counts_as_deleted(twilio) -> None:
    app, fake, resident_id = twilio
    fake.deleted_recordings.add(SIDS[0])                   # deleted in the console, or an earlier lost answer
    _erase(app, resident_id)
    report = _drain(app)
    assert report.sent == 2 and report.dead == 0 and report.retried == 0
    assert {r.status for r in _rows(app)} == {OutboxStatus.SENT}
    with db.reading(app) as session:
        details = [e.data.get("detail") for e in session.scalars(
            select(AuditEntry).where(AuditEntry.action == "outbox.sent"))]
    assert sorted(details, key=str) == sorted([None, "already deleted (404)"], key=str)


def test_the_retention_sweep_deletes_old_recordings_at_twilio_too(twilio, clock) -> None:
    app, fake, _ = twilio
    policy = privacy.RetentionPolicy(inactive_years=0, recording_days=1, conversation_days=0)
    clock.advance(timedelta(days=1))
    with db.transaction(app) as session:
        report = privacy.retention_sweep(session, parts=privacy.parts_of(app), policy=policy, now=clock.now())
    assert report.recordings_pruned == 3
    _drain(app)
    assert _deleted_sids(fake) == sorted([*SIDS, NEIGHBOUR_SID])
    with db.reading(app) as session:
        assert all(m.recording_url is None for m in session.scalars(select(VoiceMessage)))
