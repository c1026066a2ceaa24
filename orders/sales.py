"""What a shop sold: quantities and yen per product, per delivery day or per week (Monday to Sunday), from
delivered orders only (not at home, cancelled or still open orders are not sales). Amounts are the
lines' tax-included totals at the price the resident was quoted; the delivery fee is not the shop's.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orders.models import Order, OrderLine, OrderStatus
from shops.models import Product, Shop

PERIODS = ("day", "week")
MAX_SPAN_DAYS = 400


@dataclass(frozen=True)
class SalesLine:
    product_id: int
    name: str
    unit: str
    quantity: int
    yen: int


@dataclass(frozen=True)
class SalesPeriod:
    start: date
    end: date          # inclusive
    lines: list[SalesLine]

    @property
    def total_yen(self) -> int:
        return sum(line.yen for line in self.lines)


def period_start(day: date, by: str) -> date:
    return day - timedelta(days=day.weekday()) if by == "week" else day


def _sold(start: date, end: date) -> tuple[Any, ...]:
    """The lines that are sales: of delivered orders, delivered from ``start`` to ``end`` (inclusive)."""
    return (Order.status == OrderStatus.DELIVERED, Order.delivery_date >= start, Order.delivery_date <= end)


@dataclass(frozen=True)
class ShopDaySales:
    day: date
    shop_id: int
    shop_name: str
    yen: int


def sales_by_shop(session: Session, *, start: date, end: date) -> list[ShopDaySales]:
    """Every shop's sales per delivery day from ``start`` to ``end`` (the staff's daily report): days
    and shops with sales only, by day then by yen (largest first)."""
    rows = session.execute(
        select(Order.delivery_date, OrderLine.shop_id, Shop.name, func.sum(OrderLine.line_total_yen).label("yen"))
        .join(Order, Order.id == OrderLine.order_id).join(Shop, Shop.id == OrderLine.shop_id)
        .where(*_sold(start, end))
        .group_by(Order.delivery_date, OrderLine.shop_id, Shop.name)).all()
    sales = [ShopDaySales(row.delivery_date, row.shop_id, row.name, int(row.yen)) for row in rows]
    return sorted(sales, key=lambda s: (s.day, -s.yen, s.shop_id))


def shop_sales(session: Session, *, shop_id: int, start: date, end: date, by: str = "day") -> list[SalesPeriod]:
    """The shop's sales from ``start`` to ``end`` (delivery dates, inclusive), one entry per day or per
    week, newest first, empty periods included (a day with nothing sold shows 0円)."""
    if by not in PERIODS:
        raise ValueError(f"unknown period {by!r}")
    if end < start or (end - start).days > MAX_SPAN_DAYS:
        raise ValueError("bad span")
    rows = session.execute(
        select(Order.delivery_date, OrderLine.product_id, Product.name, Product.unit,
               func.sum(OrderLine.quantity).label("quantity"), func.sum(OrderLine.line_total_yen).label("yen"))
        .join(Order, Order.id == OrderLine.order_id)
        .join(Product, Product.id == OrderLine.product_id)
        .where(OrderLine.shop_id == shop_id, *_sold(start, end))
        .group_by(Order.delivery_date, OrderLine.product_id, Product.name, Product.unit)
    ).all()
    totals: dict[date, dict[int, list]] = defaultdict(dict)
    for row in rows:
        bucket = totals[period_start(row.delivery_date, by)]
        entry = bucket.setdefault(row.product_id, [row.name, row.unit, 0, 0])
        entry[2] += int(row.quantity)
        entry[3] += int(row.yen)
    periods: list[SalesPeriod] = []
    step = timedelta(days=7 if by == "week" else 1)
    first = period_start(end, by)
    while first + step > start:
        last = min(first + step - timedelta(days=1), end)
        lines = [SalesLine(product_id=pid, name=v[0], unit=v[1], quantity=v[2], yen=v[3])
                 for pid, v in totals.get(first, {}).items()]
        lines.sort(key=lambda line: (-line.yen, line.product_id))
        periods.append(SalesPeriod(start=max(first, start) if by == "day" else first, end=last, lines=lines))
        first -= step
    return periods
