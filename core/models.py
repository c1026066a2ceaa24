"""Cross-cutting records: the audit log, processed webhook events and where a conversation stands."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base


class AuditEntry(Base):
    """Who did what, when, through which channel. Holds ids, never personal data itself."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ProcessedEvent(Base):
    """A webhook event already handled. The unique key makes a redelivered or concurrent duplicate a no-op."""

    __tablename__ = "processed_events"
    __table_args__ = (UniqueConstraint("source", "event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(128))
    received_at: Mapped[datetime] = mapped_column()


class Conversation(Base):
    """Where a LINE chat or a phone call stands (basket, current step), kept in the database so that a
    conversation survives a web process restart. ``party`` is a LINE user id or a Twilio CallSid."""

    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("channel", "party"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    party: Mapped[str] = mapped_column(String(64))
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column()
