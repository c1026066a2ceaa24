"""Where a LINE chat stands, kept in ``core.models.Conversation`` (channel "line", party = user id).

The row is locked for the event's transaction (FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE
already serialises writers), so two events from one user never interleave their basket updates.
Read and written with prebuilt Core statements: this runs on every event, and the ORM's unit of work
(an identity-mapped row, a flush at commit) cost more than the two statements themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.events import Incoming
from core.models import Conversation

CHANNEL = "line"

_table = Conversation.__table__
# ``party`` is the LINE user id. Callers may add columns (scalar subqueries on the same ``party``)
# to learn more in the same round trip; FOR UPDATE OF locks the conversation row only.
LOAD = (select(_table.c.id, _table.c.state)
        .where(_table.c.channel == CHANNEL, _table.c.party == bindparam("party")).with_for_update(of=_table))
_SAVE = update(_table).where(_table.c.id == bindparam("row_id")).values(
    state=bindparam("state", type_=_table.c.state.type), updated_at=bindparam("now", type_=_table.c.updated_at.type))
# First contact: create the row unless another event from the same user just did.
_CREATE = {name: dialect.insert(_table).on_conflict_do_nothing(index_elements=["channel", "party"])
           for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))}


@dataclass
class Row:
    id: int
    state: dict[str, Any]


def load(session: Session, user_id: str, now: datetime, query: Any = LOAD) -> tuple[Row, tuple[Any, ...]]:
    """The user's conversation row, created on first contact and locked for this transaction, and
    the values of any columns ``query`` adds to ``LOAD``."""
    found = session.execute(query, {"party": user_id}).first()
    if found is None:
        dialect = session.get_bind().dialect.name
        session.execute(_CREATE[dialect], {"channel": CHANNEL, "party": user_id, "state": {}, "updated_at": now})
        found = session.execute(query, {"party": user_id}).one()
    return Row(id=found[0], state=dict(found[1] or {})), tuple(found[2:])


def save(session: Session, row: Row, state: dict[str, Any], now: datetime) -> None:
    session.execute(_SAVE, {"row_id": row.id, "state": dict(state), "now": now})


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
