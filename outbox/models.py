"""The transactional outbox: every outbound message is a row committed with the change that causes it."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Enum, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base


class OutboxStatus(str, enum.Enum):
    PENDING = "pending"
    SENDING = "sending"   # claimed by a worker under a lease; reclaimable when the lease expires
    SENT = "sent"
    DEAD = "dead"         # gave up; needs a person (shown to staff)


def new_outbox_id() -> str:
    return str(uuid.uuid4())


class OutboxMessage(Base):
    """One message to one recipient. ``id`` doubles as LINE's ``X-Line-Retry-Key``, so a resend after a
    crash or timeout is recognised by LINE (409) instead of reaching the resident twice."""

    __tablename__ = "outbox"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_outbox_id)
    channel: Mapped[str] = mapped_column(String(16))     # "line" | "sms" | "voice" | "recording"
    recipient: Mapped[str] = mapped_column(String(64))   # LINE user id, E.164 number, or what "recording" deletes
    kind: Mapped[str] = mapped_column(String(48))        # e.g. "order_confirmed", "picking_list"
    payload: Mapped[dict[str, Any]] = mapped_column()     # channel-specific message body
    # Unique per logical message so that the same event never queues the same message twice.
    dedupe_key: Mapped[str | None] = mapped_column(String(160), unique=True)
    status: Mapped[OutboxStatus] = mapped_column(
        Enum(OutboxStatus, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]),
        index=True, default=OutboxStatus.PENDING,
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(index=True)
    lease_until: Mapped[datetime | None] = mapped_column()
    first_attempt_at: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    provider_ref: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()
