"""Queueing messages: ``enqueue`` and its batch form ``enqueue_all`` keep one row per dedupe key; a
standby message is settled by ``settle_standby`` only while it is still pending."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import JST
from outbox.models import OutboxMessage, OutboxStatus
from outbox.service import WRITTEN_FLAG, NewMessage, enqueue, enqueue_all, settle_standby

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=JST)


def rows(session: Session) -> list[tuple[str | None, str, str]]:
    found = session.scalars(select(OutboxMessage)).all()
    # Sorted here: the databases put NULL keys at different ends.
    return sorted(((m.dedupe_key, m.recipient, m.payload.get("text", "")) for m in found),
                  key=lambda row: (row[0] is None, row))


def test_enqueue_all_skips_keys_already_queued_and_writes_the_rest(session: Session) -> None:
    enqueue(session, channel="line", recipient="U1", kind="k", payload={"text": "first"}, now=NOW,
            dedupe_key="a")
    session.commit()
    enqueue_all(session, [NewMessage("line", "U1", "k", {"text": "again"}, "a"),
                          NewMessage("sms", "+819012345678", "k", {"text": "new"}, "b"),
                          NewMessage("line", "U3", "k", {"text": "no key"})], now=NOW)
    enqueue_all(session, [NewMessage("sms", "+819012345678", "k", {"text": "retried"}, "b")], now=NOW)
    session.commit()
    assert rows(session) == [("a", "U1", "first"), ("b", "+819012345678", "new"), (None, "U3", "no key")]
    row = session.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key == "b")).one()
    assert (row.status, row.attempts, row.channel, row.kind) == (OutboxStatus.PENDING, 0, "sms", "k")
    assert row.next_attempt_at == NOW and len(row.id) == 36


def test_enqueue_all_sees_a_message_enqueue_added_but_not_yet_flushed(session: Session) -> None:
    enqueue(session, channel="line", recipient="U1", kind="k", payload={"text": "first"}, now=NOW,
            dedupe_key="a")
    enqueue_all(session, [NewMessage("line", "U1", "k", {"text": "again"}, "a")], now=NOW)
    session.commit()
    assert rows(session) == [("a", "U1", "first")]


def test_enqueue_all_refuses_an_unknown_channel_and_writes_nothing(session: Session) -> None:
    with pytest.raises(ValueError):
        enqueue_all(session, [NewMessage("line", "U1", "k", {}, "a"), NewMessage("fax", "x", "k", {}, "b")],
                    now=NOW)
    session.commit()
    assert rows(session) == []


def _standby(session: Session, key: str) -> OutboxMessage:
    message = enqueue(session, channel="line", recipient="U1", kind="line_answer", payload={"text": key},
                      now=NOW, dedupe_key=key)
    message.next_attempt_at = NOW + timedelta(seconds=90)
    session.commit()
    return message


def test_settle_standby_marks_sent_or_makes_due_but_leaves_a_leased_one_to_its_worker(session: Session) -> None:
    """The reply went out (sent, by "reply"), or did not (due now, drain woken); a standby a worker has
    leased meanwhile is the worker's: neither outcome touches it."""
    replied, refused, leased = (_standby(session, key) for key in ("replied", "refused", "leased"))
    leased.status = OutboxStatus.SENDING
    session.commit()
    later = NOW + timedelta(seconds=3)
    settle_standby(session, replied.id, now=later, delivered=True)
    assert WRITTEN_FLAG not in session.info       # nothing new is due: no drain for a settled reply
    settle_standby(session, refused.id, now=later, delivered=False)
    assert session.info.get(WRITTEN_FLAG) is True
    settle_standby(session, leased.id, now=later, delivered=True)
    settle_standby(session, leased.id, now=later, delivered=False)
    session.commit()
    session.expire_all()
    assert (replied.status, replied.sent_at, replied.provider_ref) == (OutboxStatus.SENT, later, "reply")
    assert (refused.status, refused.next_attempt_at) == (OutboxStatus.PENDING, later)
    assert (leased.status, leased.next_attempt_at) == (OutboxStatus.SENDING, NOW + timedelta(seconds=90))
