"""A recording deletion that died (Twilio refusing or down for the whole round) is not left undeleted:
staff's 再試行 on the dashboard's dead list queues it again (audited with who), and the daily retention
sweep queues every dead one again itself; a dead LINE/SMS message gets no 再試行 (a resend could arrive
twice). Against the fake Twilio on loopback, on both databases.

Negative controls: the retention sweep without its ``requeue_dead_of`` call fails
``test_the_retention_sweep_tries_a_dead_deletion_again``; ``REQUEUEABLE`` including "sms" fails
``test_a_dead_sms_gets_no_retry``; the dashboard without the 再試行 form fails the staff test.
"""

from __future__ import annotations

import re
from datetime import timedelta

from flask import Flask
from sqlalchemy import select

from core.db import db
from core.models import AuditEntry
from outbox.models import OutboxMessage, OutboxStatus
from outbox.service import enqueue
from residents import privacy
from tests.accounts_support import csrf_of, sign_in
from tests.test_privacy_recordings import SIDS, _drain, _erase, _now, _rows, twilio  # noqa: F401


def _die(app: Flask, fake, resident_id: int) -> list[OutboxMessage]:   # type: ignore[no-untyped-def]
    fake.script.extend([(401, 20003), (401, 20003)])     # a refusal: dead at once, nothing deleted
    _erase(app, resident_id)
    assert _drain(app).dead == 2
    rows = _rows(app)
    assert {r.status for r in rows} == {OutboxStatus.DEAD} and fake.deleted_recordings == set()
    return rows


def _dashboard(client) -> str:   # type: ignore[no-untyped-def]
    return client.get("/staff/?date=2026-12-01").get_data(as_text=True)


def test_staff_retry_a_dead_deletion_and_it_goes_through(twilio) -> None:  # noqa: F811
    app, fake, resident_id = twilio
    rows = _die(app, fake, resident_id)
    client = app.test_client()
    sign_in(client)
    page = _dashboard(client)
    assert "送れなかったメッセージ（要確認）" in page and "recording_delete → recording" in page
    actions = re.findall(r'action="(/staff/outbox/[^"]+/requeue)"', page)
    assert sorted(actions) == sorted(f"/staff/outbox/{r.id}/requeue" for r in rows)
    token = csrf_of(page)
    for action in actions:
        response = client.post(action, data={"csrf_token": token, "date": "2026-12-01"})
        assert response.status_code == 302
    again = client.post(actions[0], data={"csrf_token": token, "date": "2026-12-01"}, follow_redirects=True)
    assert "再試行できる状態ではありません" in again.get_data(as_text=True)   # already queued: refused
    queued = _rows(app)
    assert {r.status for r in queued} == {OutboxStatus.PENDING} and {r.attempts for r in queued} == {0}
    with db.reading(app) as session:
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "outbox.requeue")).all()
        assert sorted(e.subject_id for e in audit) == sorted(r.id for r in rows)
        assert len({e.actor for e in audit}) == 1 and audit[0].actor.startswith("account:")   # who
    assert _drain(app).sent == 2
    assert fake.deleted_recordings == set(SIDS) and {r.status for r in _rows(app)} == {OutboxStatus.SENT}
    assert "recording_delete → recording" not in _dashboard(client)


def test_readonly_staff_see_the_dead_deletion_without_a_retry(twilio) -> None:  # noqa: F811
    app, fake, resident_id = twilio
    rows = _die(app, fake, resident_id)
    client = app.test_client()
    sign_in(client, "readonly")
    page = _dashboard(client)
    assert "recording_delete → recording" in page and "/requeue" not in page
    token = csrf_of(page)
    assert client.post(f"/staff/outbox/{rows[0].id}/requeue", data={"csrf_token": token}).status_code == 403
    assert {r.status for r in _rows(app)} == {OutboxStatus.DEAD}


def test_a_dead_sms_gets_no_retry(twilio) -> None:  # noqa: F811
    app, fake, _ = twilio
    with db.transaction(app) as session:
        row = enqueue(session, channel="sms", recipient="+819012345678", kind="order_confirmed",
                      payload={"body": "お届け：ご注文を承りました。"}, now=_now(app), dedupe_key="test:sms")
        session.flush()
        sms_id = row.id
    fake.script.append((400, 21211))
    assert _drain(app).dead == 1
    client = app.test_client()
    sign_in(client)
    page = _dashboard(client)
    assert "order_confirmed → sms" in page and "/requeue" not in page
    refused = client.post(f"/staff/outbox/{sms_id}/requeue", data={"csrf_token": csrf_of(page)},
                          follow_redirects=True)
    assert "二重に届くおそれ" in refused.get_data(as_text=True)
    with db.reading(app) as session:
        assert session.get(OutboxMessage, sms_id).status is OutboxStatus.DEAD
    assert len(fake.messages()) == 1


def test_the_retention_sweep_tries_a_dead_deletion_again(twilio, clock) -> None:  # noqa: F811
    app, fake, resident_id = twilio
    rows = _die(app, fake, resident_id)
    clock.advance(timedelta(days=1))
    with db.transaction(app) as session:
        report = privacy.retention_sweep(session, parts=privacy.parts_of(app),
                                         policy=privacy.RetentionPolicy.from_config(app.config), now=_now(app))
    assert report.recordings_retried == 2
    assert {r.status for r in _rows(app)} == {OutboxStatus.PENDING}
    assert _drain(app).sent == 2 and fake.deleted_recordings == set(SIDS)
    with db.reading(app) as session:
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "outbox.requeue")).all()
        assert sorted(e.subject_id for e in audit) == sorted(r.id for r in rows)
        assert {e.actor for e in audit} == {"retention"}
    # Nothing dead: the next sweep has nothing to retry.
    with db.transaction(app) as session:
        again = privacy.retention_sweep(session, parts=privacy.parts_of(app),
                                        policy=privacy.RetentionPolicy.from_config(app.config), now=_now(app))
    assert again.recordings_retried == 0
