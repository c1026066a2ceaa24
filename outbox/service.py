"""Queueing outbound messages. Call ``enqueue`` inside the transaction of the change that causes the
message: the row commits with the change or not at all, and the worker sends it after commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from outbox.models import OutboxMessage, OutboxStatus

CHANNELS = ("line", "sms", "voice")


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
