"""O2 at the worker level: LINE answers 500 for ten minutes while 30 confirmations queue up, then
recovers (losing some answers to timeouts). Every message is delivered once, every attempt reuses its
row's retry key, and backoff keeps the attempts per message low. Time is the frozen clock, moved to the
next due retry each round, so ten minutes cost well under a second of waiting."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import select

from core.clock import FixedClock
from core.db import db
from outbox.models import OutboxMessage, OutboxStatus
from outbox.senders import Outcome, SendResult
from outbox.service import enqueue
from outbox.worker import drain, next_due


@dataclass
class FlakyLine:
    """LINE's push contract for the retry key: one execution per key, 409 for repeats."""

    clock: FixedClock
    down_until: datetime
    channel: str = "line"
    requests: list[tuple[str, datetime]] = field(default_factory=list)
    accepted: Counter[str] = field(default_factory=Counter)
    lost_answers: int = 0

    def send(self, message: OutboxMessage) -> SendResult:
        now = self.clock.now()
        self.requests.append((message.id, now))
        if now < self.down_until:
            return SendResult(Outcome.RETRY, detail="500: internal server error")
        if self.accepted[message.id]:
            return SendResult(Outcome.SENT, detail="409: retry key already accepted")
        self.accepted[message.id] += 1
        if self.lost_answers < 10:
            # Accepted, but the answer never reached us: the worker must retry with the same key.
            self.lost_answers += 1
            return SendResult(Outcome.RETRY, detail="timeout")
        return SendResult(Outcome.SENT, provider_ref=f"req-{message.id[:8]}")


def test_outage_then_recovery_delivers_each_message_once(app: Flask, clock: FixedClock) -> None:
    start = clock.now()
    line = FlakyLine(clock, down_until=start + timedelta(minutes=10))
    rng = random.Random(11)
    ids = []
    for i in range(30):   # confirmations keep arriving during the first five minutes of the outage
        with db.transaction(app) as session:
            message = enqueue(session, channel="line", recipient=f"U{i:032d}", kind="order_confirmed",
                              payload={"messages": [{"type": "text", "text": "承りました"}]},
                              now=clock.now())
            session.flush()
            ids.append(message.id)
        clock.advance(timedelta(seconds=10))

    rounds = 0
    while rounds < 500:
        rounds += 1
        drain(lambda: db.transaction(app), {"line": line}, clock.now, rng=rng)
        with db.reading(app) as session:
            due = next_due(session, ["line"])
        if due is None:
            break
        # A worker woken at most every 5 s (its poll interval) finds everything due by then.
        clock.set(max(due, clock.now() + timedelta(seconds=5)))
    assert due is None, "the outbox never emptied"

    with db.reading(app) as session:
        rows = session.scalars(select(OutboxMessage)).all()
    assert {r.status for r in rows} == {OutboxStatus.SENT}
    assert line.accepted == Counter({message_id: 1 for message_id in ids})   # delivered once each
    assert line.lost_answers == 10
    keys = Counter(key for key, _ in line.requests)
    assert set(keys) == set(ids)
    for r in rows:
        assert keys[r.id] == r.attempts        # every attempt went out with this row's own key
    during_outage = Counter(key for key, at in line.requests if at < line.down_until)
    assert max(during_outage.values()) <= 12
    # Recovery is prompt: backoff is capped, so everything is out within ~10 minutes of recovery.
    assert max(r.sent_at for r in rows if r.sent_at) <= line.down_until + timedelta(minutes=11)
