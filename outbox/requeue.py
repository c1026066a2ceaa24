"""Giving a dead letter another go: staff's 再試行 on the dashboard, and the daily retention sweep for
recording deletions (a recording left at Twilio is a resident's voice kept against APPI retention).

Only channels whose send is idempotent may be requeued (``REQUEUEABLE``): deleting a recording twice is
harmless (Twilio's 404 counts as done). A LINE push or an SMS that died may have reached the person
already (past LINE's 24 h retry key, or a refusal) and is left for a person to judge, not resent.
Callers own the transaction; the worker is woken after their commit (``WRITTEN_FLAG``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.errors import DomainError
from outbox.models import OutboxMessage, OutboxStatus
from outbox.service import WRITTEN_FLAG

REQUEUEABLE = frozenset({"recording"})
ERROR_MAX = 500


def can_requeue(message: OutboxMessage) -> bool:
    return message.status is OutboxStatus.DEAD and message.channel in REQUEUEABLE


def _requeue(session: Session, row: OutboxMessage, *, actor: str, channel: str, now: datetime) -> None:
    previous = row.last_error or ""
    row.status = OutboxStatus.PENDING
    # A fresh round of attempts (and a fresh 23 h horizon): the last round's count is in the audit entry.
    attempts, row.attempts = row.attempts, 0
    row.first_attempt_at = None
    row.lease_until = None
    row.next_attempt_at = now
    row.last_error = f"再試行（{actor}）前回: {previous}"[:ERROR_MAX]
    audit.record(session, at=now, actor=actor, channel=channel, action="outbox.requeue",
                 subject_type="outbox", subject_id=row.id, kind=row.kind, attempts=attempts)
    session.info[WRITTEN_FLAG] = True


def requeue_dead(session: Session, message_id: str, *, actor: str, now: datetime,
                 channel: str = "staff") -> OutboxMessage:
    """Staff's 再試行 of one dead letter: pending again, due now, attempts from zero, audited.

    Raises ``DomainError`` for a row that is not dead (already retried, sent) or whose channel may not
    be resent (``REQUEUEABLE``). Never sends anything itself and never commits."""
    row = session.get(OutboxMessage, message_id, with_for_update=True)
    if row is None or row.status is not OutboxStatus.DEAD:
        raise DomainError("outbox_not_dead", "このメッセージは再試行できる状態ではありません（送信済みか、再試行中です）。")
    if row.channel not in REQUEUEABLE:
        raise DomainError("outbox_not_requeueable", "このメッセージは二重に届くおそれがあるため再試行できません。内容を確認して対応してください。")
    _requeue(session, row, actor=actor, channel=channel, now=now)
    return row


def requeue_dead_of(session: Session, channel: str, *, actor: str, now: datetime) -> int:
    """Requeue every dead row of an idempotent channel (the retention sweep, daily); returns how many.
    A row that dies again stays on the dashboard's dead list and is tried again the next day."""
    if channel not in REQUEUEABLE:
        raise ValueError(f"channel {channel!r} may not be requeued")
    rows = session.scalars(select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.DEAD,
                                                       OutboxMessage.channel == channel)
                           .order_by(OutboxMessage.id).with_for_update(skip_locked=True)).all()
    for row in rows:
        _requeue(session, row, actor=actor, channel="job", now=now)
    return len(rows)
