"""What a resident sees when they ask 「注文の確認」: upcoming and today's orders, in plain words."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from orders.calendar import find_window, format_date_ja
from orders.models import OPEN_STATUSES, STATUS_LABELS_JA, Order, OrderStatus
from orders.placing import load_resident
from core.clock import JST


@dataclass(frozen=True)
class OrderViewLine:
    product_id: int
    name: str
    unit: str
    quantity: int
    unit_price_yen: int
    line_total_yen: int


@dataclass(frozen=True)
class OrderView:
    order_id: int
    status: OrderStatus
    status_label: str          # 「注文確定」「配達中」…
    delivery_date: date
    delivery_date_label: str   # 「12月1日（火）」
    window_code: str
    window_label: str          # 「午後」
    window_start: str
    window_end: str
    cutoff_at: datetime
    lines: tuple[OrderViewLine, ...]
    subtotal_yen: int
    fee_yen: int
    total_yen: int
    changeable: bool           # can still be changed or cancelled by the resident


def view_of(order: Order, now: datetime) -> OrderView:
    window = find_window(order.district, order.window_code)
    return OrderView(
        order_id=order.id, status=order.status, status_label=STATUS_LABELS_JA[order.status],
        delivery_date=order.delivery_date, delivery_date_label=format_date_ja(order.delivery_date),
        window_code=order.window_code, window_label=window.label if window else order.window_code,
        window_start=order.window_start, window_end=order.window_end, cutoff_at=order.cutoff_at,
        lines=tuple(OrderViewLine(line.product_id, line.name, line.unit, line.quantity,
                                  line.unit_price_yen, line.line_total_yen) for line in order.lines),
        subtotal_yen=order.subtotal_yen, fee_yen=order.fee_yen, total_yen=order.total_yen,
        changeable=order.status in OPEN_STATUSES and now < order.cutoff_at,
    )


def order_status(session: Session, *, resident_id: int, now: datetime) -> list[OrderView]:
    """Orders delivered today or later (cancelled ones too, so a resident can see the cancel took),
    soonest first."""
    load_resident(session, resident_id)
    today = now.astimezone(JST).date()
    orders = session.scalars(
        select(Order).where(Order.resident_id == resident_id, Order.delivery_date >= today)
        .order_by(Order.delivery_date, Order.id)
        .options(selectinload(Order.lines), selectinload(Order.district))
    ).all()
    return [view_of(order, now) for order in orders]
