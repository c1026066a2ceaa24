"""Webhook events already handled (``core.models.ProcessedEvent``): claimed once per (source, event id).

A channel claims an event's id in the SAME transaction as the event's effects, so the id is recorded
exactly when the effects commit. The claim is one ``INSERT … ON CONFLICT DO NOTHING RETURNING id`` on the
unique (source, event_id) — no SAVEPOINT and no ORM flush. A concurrent duplicate waits for the first
transaction: if that one commits, this insert does nothing and returns no row; if it rolls back, this one
records the event. (RETURNING, not rowcount: through the Session, psycopg reports rowcount -1 for this
statement.) The ids are pruned after ``core.retention.EVENT_RETENTION``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.models import ProcessedEvent

_events = ProcessedEvent.__table__
_CLAIM = {name: dialect.insert(_events).on_conflict_do_nothing(index_elements=["source", "event_id"])
          .returning(_events.c.id) for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))}


def claim_event(session: Session, *, source: str, event_id: str, now: datetime) -> bool:
    """Record the event id in the caller's transaction; False if it was already processed (or is being
    processed right now by a transaction that then commits). Never commits."""
    statement = _CLAIM[session.get_bind().dialect.name]
    row = session.execute(statement, {"source": source, "event_id": event_id, "received_at": now}).first()
    return row is not None
