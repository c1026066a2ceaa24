"""Who a LINE account is: a shop owner, a driver, a resident, a family member of residents, or nobody
yet (a guest). The accounts get these roles by redeeming a link code (``links.service``).

The LINE bot asks on every event, so the four role lookups are scalar subqueries built once and, with
``open_line_conversation``, read in the same round trip as the locked conversation row.
Reads only; the caller owns the transaction.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from core.conversations import StateRow, load_state, state_query
from delivery.models import Driver
from residents.models import Resident
from shops.models import ShopOwner

LINE = "line"   # the conversation channel of the LINE bot; the party is the LINE user id


@dataclass(frozen=True)
class LineRoles:
    """The ids a LINE account is linked as (None where it is not). Precedence is the caller's."""

    owner_id: int | None = None      # the shop owner, and their shop
    shop_id: int | None = None
    driver_id: int | None = None     # an active driver
    resident_id: int | None = None   # an active resident who registered this account themselves


def _role_columns() -> list[Any]:
    """Shop owner id and shop, driver id, resident id of the LINE user bound as ``party`` (or NULL)."""
    user = bindparam("party")
    return [
        select(ShopOwner.id).where(ShopOwner.line_user_id == user).order_by(ShopOwner.id).limit(1).scalar_subquery(),
        select(ShopOwner.shop_id).where(ShopOwner.line_user_id == user).order_by(ShopOwner.id).limit(1).scalar_subquery(),
        select(Driver.id).where(Driver.line_user_id == user, Driver.active.is_(True)).limit(1).scalar_subquery(),
        select(Resident.id).where(Resident.line_user_id == user, Resident.active.is_(True)).limit(1).scalar_subquery(),
    ]


# Built once: building a statement costs SQLAlchemy more than running this one.
@functools.cache
def _roles_query() -> Select[Any]:
    return select(*_role_columns())


@functools.cache
def _conversation_and_roles_query() -> Select[Any]:
    return state_query(LINE).add_columns(*_role_columns())


def line_roles(session: Session, line_user_id: str) -> LineRoles:
    """What ``line_user_id`` is linked as (read again after a change within the same event)."""
    return LineRoles(*session.execute(_roles_query(), {"party": line_user_id}).one())


def open_line_conversation(session: Session, *, line_user_id: str, now: datetime) -> tuple[StateRow, LineRoles]:
    """The LINE user's conversation row (created on first contact, locked for this transaction) and
    their roles, in one round trip: this runs on every event. Save the state with
    ``core.conversations.save_state``."""
    row, roles = load_state(session, channel=LINE, party=line_user_id, now=now,
                            query=_conversation_and_roles_query())
    return row, LineRoles(*roles)
