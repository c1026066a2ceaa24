"""What a dialogue step of the LINE chat works with (``Ctx``). Where the chat stands is kept in
``core.models.Conversation`` (channel "line", party = user id), read and written by
``links.roles.open_line_conversation`` and ``core.conversations.save_state``: the row is locked for the
event's transaction, so two events from one user never interleave their basket updates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping

from sqlalchemy.orm import Session

from bot.events import Incoming


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
