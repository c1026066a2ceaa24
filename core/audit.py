"""The audit trail: services call ``record`` for every change a person or channel makes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from core.inputs import DB_INT_MAX
from core.models import AuditEntry

# A Core INSERT, sent at once: nothing reads an audit row back in the same unit of work, so the
# ORM's object and flush bookkeeping would be pure cost on every change (measured on orders).
_INSERT = insert(AuditEntry.__table__)


def record(session: Session, *, at: datetime, actor: str, channel: str, action: str,
           subject_type: str, subject_id: object, **data: Any) -> None:
    """Add an audit row in the caller's transaction. ``data`` must hold ids and numbers, not personal data."""
    session.connection().execute(_INSERT, dict(at=at, actor=actor, channel=channel, action=action,
                                               subject_type=subject_type, subject_id=str(subject_id),
                                               data=data))


AUDIT_PAGE = 200


def recent_entries(session: Session, *, before: int = 0, limit: int = AUDIT_PAGE) -> list[AuditEntry]:
    """The audit log page, newest first: ``limit`` entries, those with an id below ``before`` when it is a
    possible id (1 … ``DB_INT_MAX``; anything else means "from the newest", and a bigger number would
    overflow PostgreSQL's ``integer``). Reads only."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if 0 < before <= DB_INT_MAX:
        query = query.where(AuditEntry.id < before)
    return list(session.scalars(query))
