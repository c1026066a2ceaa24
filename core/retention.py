"""How long the service keeps what it only needed for a while (issue 12, hole 10; APPI: keep no more
than needed): the ids of webhook events already handled.

A LINE event id is needed only while LINE may redeliver it (its retries stop within hours); a week
leaves a wide margin. An event older than that is ignored on arrival (``bot/dispatch.py``), since its id
may be gone and it would otherwise be handled a second time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from core.models import ProcessedEvent

EVENT_RETENTION = timedelta(days=7)


def prune_processed_events(session: Session, *, now: datetime) -> int:
    """Delete event ids received more than ``EVENT_RETENTION`` ago; returns how many. Idempotent, so a
    second worker running it at the same time only finds nothing left to delete."""
    result = session.execute(delete(ProcessedEvent).where(ProcessedEvent.received_at < now - EVENT_RETENTION))
    return int(result.rowcount or 0)   # type: ignore[attr-defined]
