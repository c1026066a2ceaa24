"""Draining the outbox: claim due rows under a lease, send each outside any transaction, record the outcome.

The outbox table is the queue of record (docs/design-notes.md, "Outbox"); whatever triggers a drain (a commit, the
minute sweep, ``otodoke outbox drain``) may fire twice or not at all without losing or doubling a message:

* a claim is a short transaction: ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL (several workers are
  safe), ``BEGIN IMMEDIATE`` on SQLite (one worker per database); the claimed rows become ``sending`` with
  ``lease_until``, so a worker that dies mid-send leaves rows that are claimable again once the lease
  expires (at-least-once), and the row id, LINE's ``X-Line-Retry-Key``, makes that once for LINE;
* the network call happens with no transaction open, so a slow API never holds database locks;
* the outcome is written in a new short transaction, guarded by the attempt number, so a worker whose
  lease was taken over cannot overwrite the newer attempt (only "sent" always wins: it is the truth).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from core import audit
from outbox.backoff import retry_delay
from outbox.models import OutboxMessage, OutboxStatus
from outbox.senders import Outcome, Sender, SendResult

log = logging.getLogger("otodoke.outbox")

SessionFactory = Callable[[], AbstractContextManager[Session]]
NowFn = Callable[[], datetime]

# LINE keeps a retry key for 24 h after the first attempt; past 23 h a resend could reach the resident twice.
HORIZON = timedelta(hours=23)
NOT_CONFIGURED = "channel not configured"
NEEDS_HUMAN = "needs human check"
ERROR_MAX = 500
# Channels whose done sends are audited too: a recording deleted at Twilio is the proof that a
# resident's erasure finished (the queueing is audited by residents/privacy.py).
AUDITED_WHEN_SENT = frozenset({"recording"})


@dataclass
class Claimed:
    """A row this worker holds under a lease; ``attempt`` is the attempt number the claim gave it."""

    message: OutboxMessage
    attempt: int
    lease_until: datetime
    first_attempt_was_set: bool


@dataclass
class ClaimResult:
    claimed: list[Claimed] = field(default_factory=list)
    expired: int = 0   # rows found past the 23 h horizon and dead-lettered instead of sent


@dataclass
class DrainReport:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    dead: int = 0          # includes ``expired``
    expired: int = 0
    unconfigured: int = 0  # due rows waiting because their channel has no sender
    stale: int = 0         # outcomes dropped because another worker took the row over
    released: int = 0      # claimed but not sent because the lease ran out first

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


ClaimFn = Callable[..., ClaimResult]


def claim(session: Session, *, channels: Sequence[str], now: datetime, batch: int,
          lease_s: float) -> ClaimResult:
    """Lease up to ``batch`` due rows of the given channels (in the caller's short transaction)."""
    due = or_(
        and_(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= now),
        and_(OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.lease_until < now),
    )
    rows = session.scalars(
        select(OutboxMessage)
        .where(due, OutboxMessage.channel.in_(channels))
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(batch)
        .with_for_update(skip_locked=True)   # rendered on PostgreSQL; SQLite relies on BEGIN IMMEDIATE
    ).all()
    return lease_rows(session, rows, now=now, lease_s=lease_s)


def lease_rows(session: Session, rows: Sequence[OutboxMessage], *, now: datetime,
               lease_s: float) -> ClaimResult:
    """Mark selected rows as ``sending`` under a lease (or dead past the horizon) and detach them."""
    result = ClaimResult()
    lease_until = now + timedelta(seconds=lease_s)
    for row in rows:
        if row.first_attempt_at is not None and now - row.first_attempt_at >= HORIZON:
            _make_dead(session, row, now=now, reason=f"{NEEDS_HUMAN}: unsent 23 h after the first "
                       "attempt; LINE's retry key is about to expire, a resend could arrive twice")
            result.expired += 1
            continue
        first_was_set = row.first_attempt_at is not None
        row.status = OutboxStatus.SENDING
        row.attempts += 1
        row.lease_until = lease_until
        if not first_was_set:
            row.first_attempt_at = now
        result.claimed.append(Claimed(row, row.attempts, lease_until, first_was_set))
    session.flush()
    # Detached copies keep their loaded state after commit: the send happens outside the session.
    for item in result.claimed:
        session.expunge(item.message)
    return result


def drain(session_factory: SessionFactory, senders: Mapping[str, Sender], now_fn: NowFn, *,
          batch: int = 20, lease_s: float = 120, max_attempts: int = 12, max_batches: int = 50,
          rng: random.Random | None = None, claim_fn: ClaimFn = claim) -> DrainReport:
    """Send every due outbox row whose channel has a sender; return what happened.

    ``session_factory()`` must give a context manager around one committed transaction (e.g.
    ``lambda: db.transaction(app)``). ``claim_fn`` exists so that a test can swap in a naive claim as
    a negative control.
    """
    report = DrainReport()
    channels = sorted(senders)
    for _ in range(max_batches if channels else 0):
        with session_factory() as session:
            result = claim_fn(session, channels=channels, now=now_fn(), batch=batch, lease_s=lease_s)
        report.claimed += len(result.claimed)
        report.dead += result.expired
        report.expired += result.expired
        for item in result.claimed:
            _deliver(session_factory, senders[item.message.channel], item, now_fn, report,
                     max_attempts=max_attempts, rng=rng)
        if len(result.claimed) + result.expired < batch:
            break
    report.unconfigured = _mark_unconfigured(session_factory, channels, now_fn())
    if report.claimed or report.dead or report.unconfigured:
        log.info("outbox drain: %s", report.as_dict())
    return report


def _deliver(session_factory: SessionFactory, sender: Sender, item: Claimed, now_fn: NowFn,
             report: DrainReport, *, max_attempts: int, rng: random.Random | None) -> None:
    message = item.message
    if now_fn() >= item.lease_until:
        # Too slow a batch: another worker may already own this row; give it back untouched.
        with session_factory() as session:
            if _release(session, item):
                report.released += 1
        return
    try:
        result = sender.send(message)
    except Exception as exc:  # a poison row or a broken sender must not stop the other rows
        log.warning("outbox %s (%s/%s) sender raised %s", message.id, message.channel, message.kind,
                    type(exc).__name__)
        result = SendResult(Outcome.RETRY, detail=f"{type(exc).__name__}: {exc}")
    with session_factory() as session:
        outcome = record_outcome(session, item, result, now=now_fn(), max_attempts=max_attempts, rng=rng)
    if outcome == "sent":
        report.sent += 1
    elif outcome == "retry":
        report.retried += 1
    elif outcome == "dead":
        report.dead += 1
    else:
        report.stale += 1


def record_outcome(session: Session, item: Claimed, result: SendResult, *, now: datetime,
                   max_attempts: int, rng: random.Random | None = None) -> str:
    """Write one send's outcome; returns "sent", "retry", "dead" or "stale" (someone else owns the row)."""
    row = session.get(OutboxMessage, item.message.id, with_for_update=True)
    if row is None:
        return "stale"
    if result.outcome is Outcome.SENT:
        if row.status is OutboxStatus.SENT:
            return "stale"
        row.status = OutboxStatus.SENT
        row.sent_at = now
        row.provider_ref = result.provider_ref
        row.lease_until = None
        if row.channel in AUDITED_WHEN_SENT:
            audit.record(session, at=now, actor="worker", channel=row.channel, action="outbox.sent",
                         subject_type="outbox", subject_id=row.id, kind=row.kind, attempts=row.attempts,
                         detail=result.detail[:ERROR_MAX] or None)
        return "sent"
    if row.status is not OutboxStatus.SENDING or row.attempts != item.attempt:
        return "stale"
    detail = (result.detail or result.outcome.value)[:ERROR_MAX]
    if result.outcome is Outcome.DEAD:
        _make_dead(session, row, now=now, reason=detail)
        return "dead"
    if row.attempts >= max_attempts:
        _make_dead(session, row, now=now, reason=f"gave up after {row.attempts} attempts: {detail}")
        return "dead"
    next_at = now + timedelta(seconds=retry_delay(row.attempts, retry_after_s=result.retry_after_s,
                                                  rng=rng))
    first = row.first_attempt_at or now
    if next_at - first >= HORIZON:
        _make_dead(session, row, now=now, reason=f"{NEEDS_HUMAN}: the next try would fall after the "
                   f"23 h retry window; last error: {detail}")
        return "dead"
    row.status = OutboxStatus.PENDING
    row.next_attempt_at = next_at
    row.lease_until = None
    row.last_error = detail
    return "retry"


def _make_dead(session: Session, row: OutboxMessage, *, now: datetime, reason: str) -> None:
    row.status = OutboxStatus.DEAD
    row.lease_until = None
    row.last_error = reason[:ERROR_MAX]
    # Staff find dead letters in the outbox and in the audit trail (ids only, no message text).
    audit.record(session, at=now, actor="worker", channel=row.channel, action="outbox.dead",
                 subject_type="outbox", subject_id=row.id, kind=row.kind, attempts=row.attempts)
    log.warning("outbox %s (%s/%s) is dead after %d attempt(s): %s", row.id, row.channel, row.kind,
                row.attempts, reason[:200])


def _release(session: Session, item: Claimed) -> bool:
    values: dict[str, object] = {"status": OutboxStatus.PENDING, "lease_until": None,
                                 "attempts": OutboxMessage.attempts - 1}
    if not item.first_attempt_was_set:
        values["first_attempt_at"] = None
    released = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == item.message.id, OutboxMessage.status == OutboxStatus.SENDING,
               OutboxMessage.attempts == item.attempt)
        .values(values)
        .execution_options(synchronize_session=False)
    )
    return bool(released.rowcount)


def _mark_unconfigured(session_factory: SessionFactory, channels: Sequence[str], now: datetime) -> int:
    """Count due rows nobody can send, and say why on the row (they wait; never dropped, never "sent")."""
    waiting = and_(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= now,
                   OutboxMessage.channel.not_in(channels))
    with session_factory() as session:
        count = session.scalar(select(func.count()).select_from(OutboxMessage).where(waiting)) or 0
        if count:
            session.execute(
                update(OutboxMessage)
                .where(waiting, or_(OutboxMessage.last_error.is_(None),
                                    OutboxMessage.last_error != NOT_CONFIGURED))
                .values(last_error=NOT_CONFIGURED)
                .execution_options(synchronize_session=False)
            )
    return int(count)


def next_due(session: Session, channels: Sequence[str]) -> datetime | None:
    """When the next drain has work: the earliest retry time or lease expiry of a sendable row."""
    if not channels:
        return None
    pending = session.scalar(select(func.min(OutboxMessage.next_attempt_at)).where(
        OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.channel.in_(channels)))
    leased = session.scalar(select(func.min(OutboxMessage.lease_until)).where(
        OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.channel.in_(channels)))
    candidates = [t for t in (pending, leased) if t is not None]
    return min(candidates) if candidates else None


def status_counts(session: Session) -> dict[str, int]:
    """Rows per status, every status present (for ``otodoke outbox status`` and the staff page)."""
    counts = {s.value: 0 for s in OutboxStatus}
    for status, n in session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)):
        counts[OutboxStatus(status).value] = int(n)
    return counts


def list_messages(session: Session, *, status: OutboxStatus = OutboxStatus.DEAD,
                  limit: int = 50) -> list[OutboxMessage]:
    """Messages in one status, newest first (dead letters by default: the ones a person must check)."""
    return list(session.scalars(
        select(OutboxMessage).where(OutboxMessage.status == status)
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id).limit(limit)
    ))
