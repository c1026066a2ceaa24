"""Conversation rows (``core.models.Conversation``): found by channel and party, locked, created once.

The phone channel keeps each call's state here (``voice/calls.py``), the LINE bot each user's chat
(``load_state``/``save_state``, channel "line", party = LINE user id). The row is locked for the caller's
transaction (``FOR UPDATE`` on PostgreSQL; SQLite write transactions are serialised anyway), so a retry
that arrives while the first attempt is still working waits, then sees what the first one wrote.
These functions flush at most; the caller owns the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
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


# The LINE bot reads and writes its row on every event, so it uses prebuilt Core statements: the
# ORM's unit of work (an identity-mapped row, a flush at commit) cost more than the two statements.
_table = Conversation.__table__
_SAVE = update(_table).where(_table.c.id == bindparam("row_id")).values(
    state=bindparam("state", type_=_table.c.state.type), updated_at=bindparam("now", type_=_table.c.updated_at.type))
# First contact: create the row unless another event from the same party just did.
_CREATE = {name: dialect.insert(_table).on_conflict_do_nothing(index_elements=["channel", "party"])
           for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))}


@dataclass
class StateRow:
    """A conversation row as ``load_state`` read it: its id (for ``save_state``) and its state."""

    id: int
    state: dict[str, Any]


def state_query(channel: str) -> Select[Any]:
    """The id and state of the row of the party bound as ``party`` on ``channel``, locked (FOR UPDATE
    OF the conversation table only). Callers may add columns (scalar subqueries on the same ``party``)
    to learn more in the same round trip, and should build the statement once and keep it."""
    return (select(_table.c.id, _table.c.state)
            .where(_table.c.channel == channel, _table.c.party == bindparam("party")).with_for_update(of=_table))


def load_state(session: Session, *, channel: str, party: str, now: datetime,
               query: Select[Any]) -> tuple[StateRow, tuple[Any, ...]]:
    """The party's row (``query``: from ``state_query(channel)``), created on first contact and locked
    for this transaction, and the values of any columns ``query`` adds."""
    found = session.execute(query, {"party": party}).first()
    if found is None:
        dialect = session.get_bind().dialect.name
        session.execute(_CREATE[dialect], {"channel": channel, "party": party, "state": {}, "updated_at": now})
        found = session.execute(query, {"party": party}).one()
    return StateRow(id=found[0], state=dict(found[1] or {})), tuple(found[2:])


def save_state(session: Session, row: StateRow, state: dict[str, Any], now: datetime) -> None:
    """Write ``state`` back to the row ``load_state`` returned (the caller commits)."""
    session.execute(_SAVE, {"row_id": row.id, "state": dict(state), "now": now})
