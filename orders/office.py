"""Orders the coordinator takes for a resident who phoned the office (「電話受付」).

The same rules as LINE and the phone line, through the same services: the next delivery day of the
resident's district and its cutoff (orders.calendar), one order per door per day (orders.door), stock
reserved on confirmation, the resident told through the outbox. What is added here is only what the
office needs on top: the day the coordinator was shown must still be the day being ordered for (the
cutoff may pass while they are on the phone), and the order's history for its detail page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import AuditEntry
from orders.calendar import DeliverySlot, Window, delivery_choices, format_date_ja, format_datetime_ja, next_delivery_slot
from orders.door import Placed, done_under, open_order_for, order_or_add, quote_for_door
from orders.errors import OrderError
from orders.models import Order
from orders.placing import LineItem, Quote, load_resident

OFFICE_CHANNEL = "staff"
OFFICE_LABEL_JA = "電話受付"
CHANNEL_LABELS_JA = {"line": "LINE", "phone": "自動電話", "web": "ウェブ", OFFICE_CHANNEL: OFFICE_LABEL_JA,
                     "sim": "シミュレーション"}

# What the order page's history says for each audit action; an unknown action shows its code.
HISTORY_LABELS_JA = {"order.placed": "注文を受付", "order.added": "注文に追加", "order.changed": "内容を変更",
                     "order.cancelled": "取り消し", "order.moved": "配達日を変更"}


@dataclass(frozen=True)
class OfficeDay:
    slot: DeliverySlot
    windows: tuple[Window, ...]
    open_order: Order | None      # a confirmation now is an addition to this order


def office_day(session: Session, *, resident_id: int, now: datetime) -> OfficeDay:
    """The day an order taken now is delivered on, its windows, and the resident's open order that day."""
    resident = load_resident(session, resident_id)
    slot = next_delivery_slot(resident.district, now)
    return OfficeDay(slot=slot, windows=delivery_choices(resident.district),
                     open_order=open_order_for(session, resident_id=resident_id, now=now))


def quote_office_order(session: Session, *, resident_id: int, items: Sequence[LineItem], now: datetime,
                       window_code: str | None) -> tuple[Quote, int | None]:
    """The quote read to the resident before 確定: a new order, or an addition (no second fee)."""
    return quote_for_door(session, resident_id=resident_id, items=items, now=now, window_code=window_code)


def _check_same_day(session: Session, resident_id: int, delivery_date: date, now: datetime) -> None:
    slot = next_delivery_slot(load_resident(session, resident_id).district, now)
    if slot.date != delivery_date:
        # Placing anyway would silently move the order to another day: refuse and say why.
        raise OrderError(
            "past_cutoff",
            f"{format_date_ja(delivery_date)}のお届け分は締め切りを過ぎました。ご注文はお受けしていません。"
            f"次のお届けは{format_date_ja(slot.date)}です（締め切り {format_datetime_ja(slot.cutoff_at)}）。"
            "内容を確かめて、もう一度お受けください。",
            delivery_date=delivery_date.isoformat())


def take_office_order(session: Session, *, resident_id: int, items: Sequence[LineItem], delivery_date: date,
                      actor: str, now: datetime, idempotency_key: str, window_code: str | None = None,
                      into: int | None = None) -> Placed:
    """Confirm an order taken on the phone, in the caller's transaction; all or nothing.

    ``delivery_date`` and ``into`` are what the quote showed; if the cutoff passed or the door's open
    order changed since, nothing is placed. The same ``idempotency_key`` (one per quote form) returns the
    first result, so a double submit places one order. The resident's confirmation (LINE, family, SMS)
    is queued by the placing service, as for every channel.
    """
    done = done_under(session, idempotency_key, resident_id)
    if done is not None:
        return done
    _check_same_day(session, resident_id, delivery_date, now)
    # The coordinator has read the quote back to the resident: an identical repeat is intended.
    return order_or_add(session, resident_id=resident_id, items=items, placed_by=actor, channel=OFFICE_CHANNEL,
                        now=now, idempotency_key=idempotency_key, window_code=window_code, into=into,
                        repeat_ok=True)


def order_history(session: Session, order_id: int) -> list[AuditEntry]:
    """What happened to the order (placed, added to, changed, cancelled, planned…), oldest first."""
    return list(session.scalars(
        select(AuditEntry).where(AuditEntry.subject_type == "order", AuditEntry.subject_id == str(order_id))
        .order_by(AuditEntry.at, AuditEntry.id)))
