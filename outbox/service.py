"""Queueing outbound messages. Call ``enqueue`` inside the transaction of the change that causes the
message: the row commits with the change or not at all, and the worker sends it after commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from outbox.models import OutboxMessage, OutboxStatus, new_outbox_id

# "recording" is not a message to a person: it deletes a call recording kept at Twilio (the resident's
# voice), queued like a message so that it leaves only after the erasure commits and is retried.
CHANNELS = ("line", "sms", "voice", "recording")
# Set on the session when outbox rows are written; otodoke.jobs wakes the worker after the commit.
# (ORM inserts are seen by its after_flush hook; enqueue_all's Core INSERT says so itself.)
WRITTEN_FLAG = "otodoke.outbox_written"


@dataclass(frozen=True)
class NewMessage:
    channel: str
    recipient: str
    kind: str
    payload: dict[str, Any]
    dedupe_key: str | None = None


def enqueue(session: Session, *, channel: str, recipient: str, kind: str, payload: dict[str, Any],
            now: datetime, dedupe_key: str | None = None) -> OutboxMessage:
    """Add one outbound message in the caller's transaction; never sends anything itself.

    ``dedupe_key`` names the logical message (e.g. ``order:12:confirmed:line:U123``); queueing the same
    key twice returns the existing row, so a retried use case cannot queue a second copy.
    """
    if channel not in CHANNELS:
        raise ValueError(f"unknown outbox channel {channel!r}")
    if dedupe_key is not None:
        existing = session.scalars(
            select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key)
        ).one_or_none()
        if existing is not None:
            return existing
    message = OutboxMessage(channel=channel, recipient=recipient, kind=kind, payload=payload,
                            dedupe_key=dedupe_key, status=OutboxStatus.PENDING, attempts=0,
                            next_attempt_at=now, created_at=now)
    session.add(message)
    return message


_outbox = OutboxMessage.__table__
# INSERT … ON CONFLICT (dedupe_key) DO NOTHING: the dedupe check and the insert in one statement (and
# race-free). Both dialects spell it the same way, but it is not part of portable Core.
_INSERT_NEW: dict[str, Insert] = {
    "postgresql": postgresql.insert(_outbox).on_conflict_do_nothing(index_elements=[_outbox.c.dedupe_key]),
    "sqlite": sqlite.insert(_outbox).on_conflict_do_nothing(index_elements=[_outbox.c.dedupe_key]),
}


def enqueue_all(session: Session, messages: Sequence[NewMessage], *, now: datetime) -> None:
    """``enqueue`` for several messages in one INSERT, for callers that do not need the rows back.

    Same guarantees: the rows commit with the caller's transaction or not at all, and a message whose
    ``dedupe_key`` is already queued is not queued again (it is skipped, not returned).
    """
    if not messages:
        return
    for message in messages:
        if message.channel not in CHANNELS:
            raise ValueError(f"unknown outbox channel {message.channel!r}")
    if any(isinstance(pending, OutboxMessage) for pending in session.new):
        # A message ``enqueue`` added but the session has not flushed yet is invisible to ON CONFLICT;
        # flush it first, as the SELECT in ``enqueue`` would have (autoflush).
        session.flush()
    connection = session.connection()
    connection.execute(_INSERT_NEW[connection.dialect.name], [
        dict(id=new_outbox_id(), channel=m.channel, recipient=m.recipient, kind=m.kind, payload=m.payload,
             dedupe_key=m.dedupe_key, status=OutboxStatus.PENDING, attempts=0, next_attempt_at=now,
             created_at=now)
        for m in messages
    ])
    session.info[WRITTEN_FLAG] = True


def messages_to(session: Session, recipients: Sequence[str]) -> list[OutboxMessage]:
    """Every message queued for these recipients (LINE ids, phone numbers), oldest first: a resident's
    data export (``residents/privacy.py``)."""
    if not recipients:
        return []
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.recipient.in_(list(recipients)))
                                .order_by(OutboxMessage.created_at, OutboxMessage.id)))


ERASED_RECIPIENT = "erased"


def erase_messages_to(session: Session, recipients: Sequence[str], *, now: datetime) -> int:
    """Deletion on request: the rows stay (what was sent, when, its provider id) without the recipient,
    the text or the dedupe key (which may hold a LINE id); a message not yet sent is given up (dead,
    never sent). Returns how many rows. A worker holding a lease on one finishes that one send."""
    if not recipients:
        return 0
    where = OutboxMessage.recipient.in_(list(recipients))
    session.execute(update(OutboxMessage).where(where, OutboxMessage.status.in_(
        (OutboxStatus.PENDING, OutboxStatus.SENDING))).values(
        status=OutboxStatus.DEAD, last_error="本人の依頼により削除（送信しません）", lease_until=None))
    result = session.execute(update(OutboxMessage).where(where).values(
        recipient=ERASED_RECIPIENT, payload={}, dedupe_key=None))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def settle_standby(session: Session, message_id: str, *, now: datetime, delivered: bool) -> None:
    """Settle a standby message (queued with a later ``next_attempt_at`` while the same answer went out
    another way, e.g. a LINE reply): ``delivered`` marks it sent (``provider_ref`` "reply"), otherwise it
    is made due now and the worker is woken after the caller's commit.

    Only a row still pending is touched, so one a worker has already leased is left to that worker. Never
    sends anything itself and never commits.
    """
    values: dict[str, Any] = ({"status": OutboxStatus.SENT, "sent_at": now, "provider_ref": "reply"}
                              if delivered else {"next_attempt_at": now})
    session.execute(update(_outbox).where(_outbox.c.id == message_id, _outbox.c.status == OutboxStatus.PENDING)
                    .values(**values))
    if not delivered:
        session.info[WRITTEN_FLAG] = True   # wake the drain after this commit
