"""Where each phone call stands, kept in ``conversations`` (channel "phone", party = CallSid).

Nothing about a call lives in process memory: gunicorn may send each webhook of one call to a
different worker, and a deploy may restart the web process mid-call. The row is locked for the
length of a webhook (``FOR UPDATE`` on PostgreSQL; SQLite write transactions are serialised anyway),
so a Twilio retry that arrives while the first attempt is still working waits, then sees that the
step was already handled and gets the same TwiML back.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.models import Conversation

CHANNEL = "phone"


def load(session: Session, call_sid: str, *, lock: bool = True) -> Conversation | None:
    stmt = select(Conversation).where(Conversation.channel == CHANNEL, Conversation.party == call_sid)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


def open_call(session: Session, *, call_sid: str, state: dict[str, Any], now: datetime) -> tuple[Conversation, bool]:
    """The call's row, created with ``state`` if new. Returns (row, created)."""
    existing = load(session, call_sid)
    if existing is not None:
        return existing, False
    row = Conversation(channel=CHANNEL, party=call_sid, state=state, updated_at=now)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        # The same CallSid raced in on another worker (a Twilio retry): use its row.
        found = load(session, call_sid)
        assert found is not None
        return found, False
    return row, True


def save(row: Conversation, state: dict[str, Any], now: datetime) -> None:
    # A new object: the JSON column only notices reassignment, never in-place mutation.
    row.state = copy.deepcopy(state)
    row.updated_at = now
