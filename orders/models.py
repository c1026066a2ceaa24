"""Orders and their lines. Prices are snapshots taken when the order was placed."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from places.models import District
from core.db import Base
from residents.models import Resident
from shops.models import Product, Shop


class OrderStatus(str, enum.Enum):
    RECEIVED = "received"            # taken, waiting for staff to check (e.g. a recorded phone message)
    CONFIRMED = "confirmed"          # stock reserved, will be delivered
    PICKED = "picked"                # collected from the shops
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    NOT_AT_HOME = "not_at_home"
    CANCELLED = "cancelled"


OPEN_STATUSES = (OrderStatus.RECEIVED, OrderStatus.CONFIRMED)
STATUS_LABELS_JA = {
    OrderStatus.RECEIVED: "受付中",
    OrderStatus.CONFIRMED: "注文確定",
    OrderStatus.PICKED: "集荷済み",
    OrderStatus.OUT_FOR_DELIVERY: "配達中",
    OrderStatus.DELIVERED: "お届け済み",
    OrderStatus.NOT_AT_HOME: "ご不在",
    OrderStatus.CANCELLED: "取り消し済み",
}

CHANNELS = ("line", "phone", "web", "staff", "sim")


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("total_yen >= 0", name="total_nonneg"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"), index=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    # Who placed it: "resident:12", "family:3", "staff:coordinator", "sim".
    placed_by: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[OrderStatus] = mapped_column(
        Enum(OrderStatus, native_enum=False, length=24, values_callable=lambda e: [m.value for m in e]),
        index=True,
    )
    delivery_date: Mapped[date] = mapped_column(index=True)
    window_code: Mapped[str] = mapped_column(String(16))
    window_start: Mapped[str] = mapped_column(String(5))
    window_end: Mapped[str] = mapped_column(String(5))
    cutoff_at: Mapped[datetime] = mapped_column()
    subtotal_yen: Mapped[int] = mapped_column()
    fee_yen: Mapped[int] = mapped_column()
    total_yen: Mapped[int] = mapped_column()
    payment_method: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(String(512), default="")
    # A caller-supplied key (LINE event id, CallSid + step, web form token): the same key → the same order.
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()
    cancelled_at: Mapped[datetime | None] = mapped_column()

    resident: Mapped[Resident] = relationship()
    district: Mapped[District] = relationship()
    lines: Mapped[list["OrderLine"]] = relationship(
        back_populates="order", order_by="OrderLine.id", cascade="all, delete-orphan"
    )


class OrderLine(Base):
    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    unit: Mapped[str] = mapped_column(String(16))
    unit_price_yen: Mapped[int] = mapped_column()
    quantity: Mapped[int] = mapped_column()
    line_total_yen: Mapped[int] = mapped_column()
    cold: Mapped[bool] = mapped_column(default=False)

    order: Mapped[Order] = relationship(back_populates="lines")
    product: Mapped[Product] = relationship()
    shop: Mapped[Shop] = relationship()


class OrderAddition(Base):
    """Lines added to an open order by a second order for the same door and day (one stop, one fee).

    The key makes an addition idempotent like an order (a redelivered LINE event, a retried phone
    step); ``items`` ([[product id, quantity], ...]) is what this addition added, which is what an
    accidental repeat a few minutes later is compared with.
    """

    __tablename__ = "order_additions"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    actor: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    items: Mapped[list[Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(index=True)
