"""Where each phone call stands, kept in ``conversations`` (channel "phone", party = CallSid).

Nothing about a call lives in process memory: gunicorn may send each webhook of one call to a
different worker, and a deploy may restart the web process mid-call. The row is locked for the
length of a webhook (``FOR UPDATE`` on PostgreSQL; SQLite write transactions are serialised anyway),
so a Twilio retry that arrives while the first attempt is still working waits, then sees that the
step was already handled and gets the same TwiML back. The queries are in ``core/conversations.py``.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from core.conversations import find_conversation, open_conversation
from core.models import Conversation

CHANNEL = "phone"


def load(session: Session, call_sid: str, *, lock: bool = True) -> Conversation | None:
    return find_conversation(session, channel=CHANNEL, party=call_sid, lock=lock)


def open_call(session: Session, *, call_sid: str, state: dict[str, Any], now: datetime) -> tuple[Conversation, bool]:
    """The call's row, created with ``state`` if new (a racing Twilio retry gets the same row).
    Returns (row, created)."""
    return open_conversation(session, channel=CHANNEL, party=call_sid, state=state, now=now)


def save(row: Conversation, state: dict[str, Any], now: datetime) -> None:
    # A new object: the JSON column only notices reassignment, never in-place mutation.
    row.state = copy.deepcopy(state)
    row.updated_at = now
