"""Where a LINE chat stands, kept in ``otodoke.models.Conversation`` (channel "line", party = user id).

The row is locked for the event's transaction (FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE
already serialises writers), so two events from one user never interleave their basket updates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from bot.events import Incoming
from otodoke.models import Conversation

CHANNEL = "line"


def load(session: Session, user_id: str, now: datetime) -> Conversation:
    """The user's conversation row, created on first contact and locked for this transaction."""
    query = select(Conversation).where(Conversation.channel == CHANNEL, Conversation.party == user_id)
    conv = session.scalars(query.with_for_update()).one_or_none()
    if conv is not None:
        return conv
    try:
        with session.begin_nested():
            conv = Conversation(channel=CHANNEL, party=user_id, state={}, updated_at=now)
            session.add(conv)
            session.flush()
        return conv
    except IntegrityError:
        # Another event from the same user created it a moment ago.
        return session.scalars(query.with_for_update()).one()


def save(conv: Conversation, state: dict[str, Any], now: datetime) -> None:
    conv.state = dict(state)
    conv.updated_at = now
    flag_modified(conv, "state")


@dataclass
class Ctx:
    """Everything a dialogue step needs. ``state`` is mutated in place and saved by the caller."""

    session: Session
    incoming: Incoming
    now: datetime
    config: Mapping[str, Any]
    state: dict[str, Any]
    user_id: str
    resident_id: int | None = None   # the resident being served (self, or the one a family member chose)
    actor: str = ""                  # "resident:12" | "family:3" | "shop_owner:4" | "driver:2"
    role: str = "guest"              # guest | resident | family | shop | driver
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def event_id(self) -> str:
        return self.incoming.event_id

    def basket(self) -> list[list[int]]:
        """[[product_id, quantity], ...] in the order added."""
        return [list(x) for x in self.state.get("basket", [])]

    def set_basket(self, basket: list[list[int]]) -> None:
        self.state["basket"] = [[int(p), int(q)] for p, q in basket if int(q) > 0]
