"""Conversation rows (``core.models.Conversation``): found by channel and party, locked, created once.

The phone channel keeps each call's state here (``voice/calls.py``). The row is locked for the caller's
transaction (``FOR UPDATE`` on PostgreSQL; SQLite write transactions are serialised anyway), so a retry
that arrives while the first attempt is still working waits, then sees what the first one wrote.
These functions flush at most; the caller owns the transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.models import Conversation


def find_conversation(session: Session, *, channel: str, party: str, lock: bool = True) -> Conversation | None:
    """The conversation of ``party`` on ``channel``, locked for this transaction unless ``lock`` is off."""
    stmt = select(Conversation).where(Conversation.channel == channel, Conversation.party == party)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


def open_conversation(session: Session, *, channel: str, party: str, state: dict[str, Any],
                      now: datetime) -> tuple[Conversation, bool]:
    """The locked row, created with ``state`` if new. Returns (row, created)."""
    existing = find_conversation(session, channel=channel, party=party)
    if existing is not None:
        return existing, False
    row = Conversation(channel=channel, party=party, state=state, updated_at=now)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        # The same party raced in on another worker (a Twilio retry): use its row.
        found = find_conversation(session, channel=channel, party=party)
        assert found is not None
        return found, False
    return row, True
