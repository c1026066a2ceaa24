"""The input of planning: a delivery day's confirmed orders, grouped by district and window."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from itertools import groupby

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from places.models import District
from orders.models import Order, OrderStatus


@dataclass(frozen=True)
class DistrictBatch:
    district_id: int
    district_name: str
    window_code: str
    window_start: str
    window_end: str
    orders: tuple[Order, ...]


def batch_orders(session: Session, *, delivery_date: date,
                 statuses: Iterable[OrderStatus] = (OrderStatus.CONFIRMED,)) -> list[DistrictBatch]:
    """Groups ordered by district id, then window start and code; orders by id inside a group.

    Lines, residents and districts are loaded with the orders, so planning needs no further queries.
    """
    orders = session.scalars(
        select(Order).join(District, District.id == Order.district_id)
        .where(Order.delivery_date == delivery_date, Order.status.in_(list(statuses)))
        .order_by(Order.district_id, Order.window_start, Order.window_code, Order.id)
        .options(selectinload(Order.lines), selectinload(Order.resident), selectinload(Order.district))
    ).all()
    batches: list[DistrictBatch] = []
    key = lambda o: (o.district_id, o.window_start, o.window_code)  # noqa: E731
    for (district_id, _, code), group in groupby(orders, key=key):
        members = tuple(group)
        first = members[0]
        batches.append(DistrictBatch(district_id=district_id, district_name=first.district.name,
                                     window_code=code, window_start=first.window_start,
                                     window_end=first.window_end, orders=members))
    return batches
