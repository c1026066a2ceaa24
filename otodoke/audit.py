"""The audit trail: services call ``record`` for every change a person or channel makes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from otodoke.models import AuditEntry


def record(session: Session, *, at: datetime, actor: str, channel: str, action: str,
           subject_type: str, subject_id: object, **data: Any) -> None:
    """Add an audit row in the caller's transaction. ``data`` must hold ids and numbers, not personal data."""
    session.add(AuditEntry(at=at, actor=actor, channel=channel, action=action,
                           subject_type=subject_type, subject_id=str(subject_id), data=data))
