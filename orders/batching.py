"""A delivery day's orders: grouped by district and window (the input of planning and the staff
dashboard), the whole list for the office, and the next day that has any."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from itertools import groupby

from sqlalchemy import func, select
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


@dataclass(frozen=True)
class BatchTotal:
    district_id: int
    district_name: str
    window_code: str
    window_start: str
    window_end: str
    order_count: int
    total_yen: int


def batch_totals(session: Session, *, delivery_date: date,
                 statuses: Iterable[OrderStatus] = (OrderStatus.CONFIRMED,)) -> list[BatchTotal]:
    """``batch_orders``' groups, in its order, as counts and sums only: the staff dashboard's table
    needs no order objects (one aggregate row per group instead of every order, line and resident)."""
    rows = session.execute(
        select(Order.district_id, District.name, Order.window_code, Order.window_start,
               func.min(Order.window_end), func.count(Order.id), func.sum(Order.total_yen))
        .join(District, District.id == Order.district_id)
        .where(Order.delivery_date == delivery_date, Order.status.in_(list(statuses)))
        .group_by(Order.district_id, District.name, Order.window_start, Order.window_code)
        .order_by(Order.district_id, Order.window_start, Order.window_code)).all()
    return [BatchTotal(district_id=d, district_name=name, window_code=code, window_start=start,
                       window_end=end, order_count=count, total_yen=int(total or 0))
            for d, name, code, start, end, count, total in rows]


def orders_of_day(session: Session, *, delivery_date: date) -> list[Order]:
    """Every order of the day in any status, by number, with its resident loaded (the office's list)."""
    return list(session.scalars(select(Order).where(Order.delivery_date == delivery_date)
                                .options(selectinload(Order.resident)).order_by(Order.id)))


def next_day_with_orders(session: Session, *, today: date, statuses: Iterable[OrderStatus]) -> date:
    """``today`` when it has orders in ``statuses``, else the first later day that has, else ``today``:
    the staff dashboard opens where the work is (the evening before, tomorrow's orders)."""
    wanted = list(statuses)
    has_orders = select(Order.id).where(Order.delivery_date == today, Order.status.in_(wanted)).limit(1)
    if session.scalar(has_orders) is not None:
        return today
    later = session.scalar(select(func.min(Order.delivery_date)).where(
        Order.delivery_date > today, Order.status.in_(wanted)))
    return later or today
