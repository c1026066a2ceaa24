"""What the orders domain holds about a resident, for the APPI export and erasure (``residents/privacy.py``,
which cannot import this layer: the factory hands it this part).

Orders are accounting records and stay; only the free-text note, where a caller may have said anything
about themselves, is personal and is blanked. Items, amounts, dates and statuses stay.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from orders.models import Order
from residents.models import Resident
from residents.privacy import PersonalDataPart, Row


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _collect(session: Session, resident: Resident) -> list[Row]:
    orders = session.scalars(select(Order).where(Order.resident_id == resident.id)
                             .options(selectinload(Order.lines)).order_by(Order.id))
    return [{"id": o.id, "delivery_date": o.delivery_date.isoformat(), "status": o.status.value,
             "channel": o.channel, "placed_by": o.placed_by, "window": f"{o.window_start}-{o.window_end}",
             "subtotal_yen": o.subtotal_yen, "fee_yen": o.fee_yen, "total_yen": o.total_yen,
             "payment_method": o.payment_method, "note": o.note, "created_at": _iso(o.created_at),
             "cancelled_at": _iso(o.cancelled_at),
             "lines": [{"name": line.name, "unit": line.unit, "quantity": line.quantity,
                        "unit_price_yen": line.unit_price_yen, "line_total_yen": line.line_total_yen}
                       for line in o.lines]}
            for o in orders]


def _erase(session: Session, resident: Resident, now: datetime) -> int:
    result = session.execute(update(Order).where(Order.resident_id == resident.id).values(note=""))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _active_since(session: Session, since: datetime) -> set[int]:
    return set(session.scalars(select(Order.resident_id).where(Order.created_at >= since).distinct()))


PART = PersonalDataPart("orders", _collect, _erase, _active_since, audit_subject="order")
