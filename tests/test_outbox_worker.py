"""The outbox drain (outbox/worker.py): claims under a lease, one send per row, retries with backoff,
dead letters, the 23 h horizon, lease expiry after a crash, and no double send between two drainers."""

from __future__ import annotations

import random
import threading
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from core.clock import FixedClock
from core.db import db
from core.models import AuditEntry
from outbox.backoff import retry_delay
from outbox.models import OutboxMessage, OutboxStatus
from outbox.senders import Outcome, RecordingSender, SendResult
from outbox.service import enqueue
from outbox.worker import (NEEDS_HUMAN, NOT_CONFIGURED, ClaimResult, DrainReport, claim, drain,
                           lease_rows, record_outcome)
from tests.conftest import PG_SERVER


def queue(app: Flask, clock: FixedClock, n: int = 1, *, channel: str = "line",
          kind: str = "order_confirmed") -> list[str]:
    ids = []
    with db.transaction(app) as session:
        for i in range(n):
            payload: dict[str, Any] = ({"messages": [{"type": "text", "text": f"ご注文{i}"}]}
                                       if channel == "line" else {"body": f"ご注文{i}"})
            message = enqueue(session, channel=channel, recipient=f"U{i:032d}", kind=kind,
                              payload=payload, now=clock.now())
            session.flush()   # the id (the retry key) is assigned at flush
            ids.append(message.id)
    return ids


def row(app: Flask, message_id: str) -> OutboxMessage:
    with db.reading(app) as session:
        found = session.get(OutboxMessage, message_id)
        assert found is not None
        return found


def run(app: Flask, clock: FixedClock, senders: dict[str, Any], **kwargs: Any) -> DrainReport:
    kwargs.setdefault("rng", random.Random(7))
    return drain(lambda: db.transaction(app), senders, clock.now, **kwargs)


def test_rolled_back_transaction_sends_nothing(app: Flask, clock: FixedClock) -> None:
    """O1 at the worker: a message queued in a transaction that rolls back never leaves."""
    with pytest.raises(RuntimeError):
        with db.transaction(app) as session:
            enqueue(session, channel="line", recipient="Urolledback", kind="order_confirmed",
                    payload={"messages": []}, now=clock.now())
            raise RuntimeError("the order failed after queueing its confirmation")
    committed = queue(app, clock)
    line = RecordingSender("line")
    report = run(app, clock, {"line": line})
    assert [s.id for s in line.sent] == committed
    assert report.sent == 1 and report.claimed == 1
    with db.reading(app) as session:
        assert session.scalars(select(OutboxMessage.recipient)).all() == ["U" + "0" * 32]


def test_each_row_sent_once_and_marked_sent(app: Flask, clock: FixedClock) -> None:
    ids = queue(app, clock, 5)
    line = RecordingSender("line", script=[SendResult(Outcome.SENT, provider_ref=f"req-{i}")
                                           for i in range(5)])
    report = run(app, clock, {"line": line}, batch=2)   # several batches in one drain
    assert report.sent == 5 and report.claimed == 5
    again = run(app, clock, {"line": line})
    assert again.claimed == 0
    assert sorted(s.id for s in line.sent) == sorted(ids)
    for i, message_id in enumerate(ids):
        sent = row(app, message_id)
        assert sent.status is OutboxStatus.SENT
        assert sent.attempts == 1 and sent.sent_at == clock.now() and sent.lease_until is None
        assert sent.provider_ref is not None and sent.provider_ref.startswith("req-")


def test_retry_backs_off_then_succeeds_with_the_same_key(app: Flask, clock: FixedClock) -> None:
    (message_id,) = queue(app, clock)
    line = RecordingSender("line", script=[SendResult(Outcome.RETRY, detail="500: server error"),
                                           SendResult(Outcome.RETRY, detail="timeout")])
    assert run(app, clock, {"line": line}).retried == 1
    first = row(app, message_id)
    assert first.status is OutboxStatus.PENDING and first.attempts == 1
    assert first.last_error == "500: server error" and first.first_attempt_at == clock.now()
    wait = first.next_attempt_at - clock.now()
    assert timedelta(seconds=1) <= wait <= timedelta(seconds=5)

    assert run(app, clock, {"line": line}).claimed == 0       # not due yet: no busy loop
    clock.advance(wait)
    assert run(app, clock, {"line": line}).retried == 1
    second = row(app, message_id)
    assert second.attempts == 2
    assert timedelta(seconds=1) <= second.next_attempt_at - clock.now() <= timedelta(seconds=10)

    clock.advance(timedelta(seconds=10))
    assert run(app, clock, {"line": line}).sent == 1
    done = row(app, message_id)
    assert done.status is OutboxStatus.SENT and done.attempts == 3
    # Every attempt carried the row id, LINE's X-Line-Retry-Key.
    assert [s.id for s in line.sent] == [message_id] * 3


def test_retry_after_is_honoured(app: Flask, clock: FixedClock) -> None:
    (message_id,) = queue(app, clock)
    line = RecordingSender("line", script=[SendResult(Outcome.RETRY, detail="429", retry_after_s=300)])
    run(app, clock, {"line": line})
    assert row(app, message_id).next_attempt_at - clock.now() >= timedelta(seconds=300)
    clock.advance(timedelta(seconds=299))
    assert run(app, clock, {"line": line}).claimed == 0
    clock.advance(timedelta(seconds=1))
    assert run(app, clock, {"line": line}).sent == 1


def test_dead_after_max_attempts(app: Flask, clock: FixedClock) -> None:
    (message_id,) = queue(app, clock)
    line = RecordingSender("line", script=[SendResult(Outcome.RETRY, detail="503: busy")] * 3)
    reports = []
    for _ in range(4):
        reports.append(run(app, clock, {"line": line}, max_attempts=3))
        clock.advance(timedelta(minutes=11))
    assert [r.retried for r in reports] == [1, 1, 0, 0]
    assert [r.dead for r in reports] == [0, 0, 1, 0]
    dead = row(app, message_id)
    assert dead.status is OutboxStatus.DEAD and dead.attempts == 3
    assert dead.last_error == "gave up after 3 attempts: 503: busy"
    assert len(line.sent) == 3


def test_dead_outcome_is_final_and_keeps_the_reason(app: Flask, clock: FixedClock) -> None:
    (message_id,) = queue(app, clock)
    line = RecordingSender("line", script=[SendResult(Outcome.DEAD, detail="400: Invalid reply token")])
    assert run(app, clock, {"line": line}).dead == 1
    clock.advance(timedelta(hours=1))
    assert run(app, clock, {"line": line}).claimed == 0
    dead = row(app, message_id)
    assert dead.status is OutboxStatus.DEAD and dead.last_error == "400: Invalid reply token"
    assert len(line.sent) == 1
    with db.reading(app) as session:
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "outbox.dead")).one()
    assert audit.subject_id == message_id and audit.actor == "worker"


def test_unsent_after_23_hours_goes_dead_for_a_person(app: Flask, clock: FixedClock) -> None:
    """O4: no send uses a retry key older than 23 h; the row waits for staff instead."""
    (message_id,) = queue(app, clock)
    line = RecordingSender("line", script=[SendResult(Outcome.RETRY, detail="500")])
    run(app, clock, {"line": line})
    clock.advance(timedelta(hours=23))
    report = run(app, clock, {"line": line})
    assert report.expired == 1 and report.dead == 1 and report.claimed == 0
    assert len(line.sent) == 1
    dead = row(app, message_id)
    assert dead.status is OutboxStatus.DEAD and dead.last_error.startswith(NEEDS_HUMAN)


def test_a_retry_that_would_fall_past_the_horizon_dies_at_once(app: Flask, clock: FixedClock) -> None:
    (message_id,) = queue(app, clock)
    line = RecordingSender("line", script=[SendResult(Outcome.RETRY, detail="500")] * 2)
    run(app, clock, {"line": line})
    clock.advance(timedelta(hours=22, minutes=59, seconds=59))
    line.script = [SendResult(Outcome.RETRY, detail="429", retry_after_s=60)]
    assert run(app, clock, {"line": line}).dead == 1
    dead = row(app, message_id)
    assert dead.status is OutboxStatus.DEAD and NEEDS_HUMAN in (dead.last_error or "")


class PoisonSender(RecordingSender):
    """Crashes on one payload, as a renderer bug would; sends everything else."""

    def send(self, message: OutboxMessage) -> SendResult:
        result = super().send(message)
        if message.kind == "poison":
            raise ValueError("cannot render this payload")
        return result


def test_poison_row_dies_while_others_keep_flowing(app: Flask, clock: FixedClock) -> None:
    (poison,) = queue(app, clock, kind="poison")
    healthy = queue(app, clock, 3)
    line = PoisonSender("line")
    first = run(app, clock, {"line": line}, max_attempts=2)
    assert first.sent == 3 and first.retried == 1
    assert row(app, poison).last_error == "ValueError: cannot render this payload"
    clock.advance(timedelta(minutes=11))
    assert run(app, clock, {"line": line}, max_attempts=2).dead == 1
    assert row(app, poison).status is OutboxStatus.DEAD
    assert sorted(s.id for s in line.sent if s.id != poison) == sorted(healthy)


def test_channel_without_sender_waits_and_is_counted(app: Flask, clock: FixedClock) -> None:
    (sms_id,) = queue(app, clock, channel="sms")
    (line_id,) = queue(app, clock)
    line = RecordingSender("line")
    report = run(app, clock, {"line": line})
    assert report.sent == 1 and report.unconfigured == 1
    waiting = row(app, sms_id)
    assert waiting.status is OutboxStatus.PENDING and waiting.attempts == 0
    assert waiting.last_error == NOT_CONFIGURED and waiting.first_attempt_at is None
    assert row(app, line_id).status is OutboxStatus.SENT
    # Once Twilio is configured the message goes out.
    sms = RecordingSender("sms")
    assert run(app, clock, {"line": line, "sms": sms}).sent == 1
    assert [s.id for s in sms.sent] == [sms_id]


def test_no_senders_at_all_claims_nothing(app: Flask, clock: FixedClock) -> None:
    queue(app, clock, 2)
    report = run(app, clock, {})
    assert report.claimed == 0 and report.unconfigured == 2


def crash_after_claim(app: Flask, clock: FixedClock, lease_s: float = 120) -> ClaimResult:
    """A worker that claimed and then died before recording anything."""
    with db.transaction(app) as session:
        return claim(session, channels=["line"], now=clock.now(), batch=10, lease_s=lease_s)


def test_expired_lease_makes_a_stuck_row_claimable_again(app: Flask, clock: FixedClock) -> None:
    """O3 in-process: claim, "die", move past the lease, drain: sent again with the same key."""
    (message_id,) = queue(app, clock)
    crashed = crash_after_claim(app, clock)
    assert [c.message.id for c in crashed.claimed] == [message_id]
    line = RecordingSender("line")
    assert run(app, clock, {"line": line}).claimed == 0       # the lease still holds
    clock.advance(timedelta(seconds=119))
    assert run(app, clock, {"line": line}).claimed == 0
    clock.advance(timedelta(seconds=2))
    assert run(app, clock, {"line": line}).sent == 1
    assert [s.id for s in line.sent] == [message_id]
    done = row(app, message_id)
    assert done.status is OutboxStatus.SENT and done.attempts == 2


def test_a_late_outcome_from_a_worker_that_lost_its_lease_is_ignored(app: Flask,
                                                                      clock: FixedClock) -> None:
    (message_id,) = queue(app, clock)
    slow = crash_after_claim(app, clock).claimed[0]
    clock.advance(timedelta(minutes=3))
    taken_over = crash_after_claim(app, clock).claimed[0]
    assert taken_over.attempt == 2
    with db.transaction(app) as session:
        late = record_outcome(session, slow, SendResult(Outcome.RETRY, detail="timeout"),
                              now=clock.now(), max_attempts=12)
    assert late == "stale"
    assert row(app, message_id).status is OutboxStatus.SENDING
    with db.transaction(app) as session:
        assert record_outcome(session, taken_over, SendResult(Outcome.SENT), now=clock.now(),
                              max_attempts=12) == "sent"
    # "Sent" from the slow worker arriving even later changes nothing.
    with db.transaction(app) as session:
        assert record_outcome(session, slow, SendResult(Outcome.SENT), now=clock.now(),
                              max_attempts=12) == "stale"
    assert row(app, message_id).status is OutboxStatus.SENT


def test_rows_whose_lease_ran_out_before_sending_are_given_back(app: Flask,
                                                                 clock: FixedClock) -> None:
    queue(app, clock, 2)

    class SlowSender(RecordingSender):
        def send(self, message: OutboxMessage) -> SendResult:
            clock.advance(timedelta(seconds=200))   # the first send outlives the whole batch's lease
            return super().send(message)

    line = SlowSender("line")
    report = run(app, clock, {"line": line}, max_batches=1)
    assert report.sent == 1 and report.released == 1
    with db.reading(app) as session:
        statuses = sorted(s.value for s in session.scalars(select(OutboxMessage.status)))
        released = session.scalars(select(OutboxMessage).where(
            OutboxMessage.status == OutboxStatus.PENDING)).one()
    assert statuses == ["pending", "sent"]
    assert released.attempts == 0 and released.first_attempt_at is None


# --- two drainers at once -------------------------------------------------------------------------------

def naive_claim(session: Session, *, channels: list[str], now: Any, batch: int,
                lease_s: float) -> ClaimResult:
    """The negative control: the same claim without FOR UPDATE SKIP LOCKED."""
    rows = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= now,
               OutboxMessage.channel.in_(channels))
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(batch)
    ).all()
    return lease_rows(session, rows, now=now, lease_s=lease_s)


def race(app: Flask, clock: FixedClock, claim_fn: Any, *, rows: int = 40) -> RecordingSender:
    """Two drainers start together; on PostgreSQL both hold their claim SELECT at a barrier."""
    queue(app, clock, rows)
    line = RecordingSender("line")
    barrier = threading.Barrier(2, timeout=10)
    local = threading.local()
    engine = db.bound(app).engine

    def hold_after_claim_select(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if (getattr(local, "racing", False) and not getattr(local, "waited", False)
                and statement.lstrip().upper().startswith("SELECT")
                and "ORDER BY outbox.next_attempt_at" in statement):
            local.waited = True
            barrier.wait()

    errors: list[BaseException] = []

    def worker() -> None:
        local.racing = True
        try:
            run(app, clock, {"line": line}, batch=10, claim_fn=claim_fn)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    if PG_SERVER:
        event.listen(engine, "after_cursor_execute", hold_after_claim_select)
    try:
        threads = [threading.Thread(target=worker) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        if PG_SERVER:
            event.remove(engine, "after_cursor_execute", hold_after_claim_select)
    assert not errors, errors
    return line


def test_two_drainers_never_send_the_same_row_twice(app: Flask, clock: FixedClock) -> None:
    line = race(app, clock, claim)
    ids = [s.id for s in line.sent]
    assert len(ids) == 40 and len(set(ids)) == 40
    with db.reading(app) as session:
        assert set(session.scalars(select(OutboxMessage.status))) == {OutboxStatus.SENT}


@pytest.mark.skipif(not PG_SERVER, reason="the SKIP LOCKED race needs PostgreSQL (SQLite serialises "
                    "claims with BEGIN IMMEDIATE and runs one worker)")
def test_negative_control_claim_without_row_locks_double_sends(app: Flask, clock: FixedClock) -> None:
    line = race(app, clock, naive_claim)
    ids = [s.id for s in line.sent]
    assert len(set(ids)) == 40
    assert len(ids) > 40, "the naive claim should have sent some rows twice"


# --- backoff --------------------------------------------------------------------------------------------

def test_backoff_grows_with_full_jitter_and_a_cap() -> None:
    rng = random.Random(1)
    for attempt, ceiling in [(1, 5), (2, 10), (3, 20), (8, 600), (40, 600)]:
        draws = [retry_delay(attempt, rng=rng) for _ in range(200)]
        assert all(1.0 <= d <= ceiling for d in draws)
        assert len({round(d, 3) for d in draws}) > 50          # jitter, not a fixed delay
    assert max(retry_delay(10, rng=rng) for _ in range(200)) > 300
    assert retry_delay(1, retry_after_s=120, rng=rng) == 120
    with pytest.raises(ValueError):
        retry_delay(0)


def test_a_ten_minute_outage_costs_about_a_dozen_attempts_at_most() -> None:
    """O2's budget: with base 5 s and the 10 min cap, at most ~12 attempts fit in 10 minutes."""
    rng = random.Random(3)
    counts = []
    for _ in range(2000):
        elapsed, attempts = 0.0, 0
        while elapsed < 600:
            attempts += 1
            elapsed += retry_delay(attempts, rng=rng)
        counts.append(attempts)
    # Full jitter makes this a distribution: ~8-9 typically, 13 in well under 1 % of outages.
    assert sum(counts) / len(counts) < 10
    assert sum(c > 12 for c in counts) < len(counts) / 100
    assert max(counts) <= 14
