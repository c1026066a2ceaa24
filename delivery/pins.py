"""Doors a coordinator put on a van by hand, kept there when the day is re-planned (issue #10).

``move_by_hand`` and ``assign_by_hand`` call ``pin_door``; ``prepare_day`` reads ``pins_for_day`` and
gives the routing problem an allowed-vehicles list for those doors (the same ``Stop.vehicles`` that keeps
goods already on board on their van), so plan version n+1 cannot undo the coordinator's choice. A pin
whose van is not in the new plan's fleet (taken out of service) is not dropped silently: its orders are
stored as unassigned with ``PIN_OFF_JA``, and staff take the pin off (``unpin_door``) to plan them freely.
Services take a session and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from core import audit
from delivery.models import StopPin
from orders.models import OPEN_STATUSES, Order, OrderStatus
from residents.models import Resident

PIN_OFF = "pinned_vehicle_off"


def pin_off_ja(vehicle_name: str) -> str:
    """The reason staff read when a door's pinned van is not in the plan's fleet."""
    return f"手動で固定した{vehicle_name}が今回の計画に入っていません（「固定を外す」と他の車両で計画できます）"


def pin_door(session: Session, *, delivery_date: date, resident_id: int, vehicle_id: int, actor: str,
             now: datetime) -> StopPin:
    """Pin ``resident_id``'s door on ``delivery_date`` to ``vehicle_id`` (replacing an earlier pin)."""
    pin = pin_of(session, delivery_date=delivery_date, resident_id=resident_id)
    if pin is None:
        pin = StopPin(delivery_date=delivery_date, resident_id=resident_id, vehicle_id=vehicle_id,
                      pinned_by=actor, pinned_at=now)
        session.add(pin)
    else:
        pin.vehicle_id, pin.pinned_by, pin.pinned_at = vehicle_id, actor, now
    session.flush()
    audit.record(session, at=now, actor=actor, channel="staff", action="plan.door_pinned",
                 subject_type="resident", subject_id=resident_id, delivery_date=delivery_date.isoformat(),
                 vehicle_id=vehicle_id)
    return pin


def unpin_door(session: Session, *, delivery_date: date, resident_id: int, actor: str, now: datetime) -> bool:
    """Take the pin off (the next re-plan chooses the van freely); False when there was none."""
    pin = pin_of(session, delivery_date=delivery_date, resident_id=resident_id)
    return pin is not None and _take_off(session, pin, actor=actor, channel="staff", now=now)


def unpin_if_door_empty(session: Session, *, delivery_date: date, resident_id: int, actor: str, channel: str,
                        now: datetime) -> bool:
    """Take the door's pin off when no open order of the resident is left on ``delivery_date``.

    Called in the same transaction as the cancel, the driver's outcome at the door (delivered, 不在 or
    refused: the door's orders are no longer open either way) or the move that may have emptied the door
    (``delivery.door_orders``, ``delivery.stops``, ``delivery.left_out_actions``).
    Done there, not as a filter at planning time: a filter would still find the pin live once the
    resident orders again for that day, and silently put that new order on the van the coordinator
    chose for the old one. True when a pin was taken off (audited)."""
    left = session.scalars(select(Order.id).where(Order.delivery_date == delivery_date,
                                                  Order.resident_id == resident_id,
                                                  Order.status.in_(OPEN_STATUSES)).limit(1)).first()
    pin = None if left is not None else pin_of(session, delivery_date=delivery_date, resident_id=resident_id)
    return pin is not None and _take_off(session, pin, actor=actor, channel=channel, now=now,
                                         reason="no_open_order")


def _take_off(session: Session, pin: StopPin, *, actor: str, channel: str, now: datetime, **why: str) -> bool:
    session.delete(pin)
    session.flush()
    audit.record(session, at=now, actor=actor, channel=channel, action="plan.door_unpinned",
                 subject_type="resident", subject_id=pin.resident_id,
                 delivery_date=pin.delivery_date.isoformat(), vehicle_id=pin.vehicle_id, **why)
    return True


def pin_of(session: Session, *, delivery_date: date, resident_id: int) -> StopPin | None:
    return session.scalars(select(StopPin).where(StopPin.delivery_date == delivery_date,
                                                 StopPin.resident_id == resident_id)
                           .options(selectinload(StopPin.vehicle))).one_or_none()


def pins_for_day(session: Session, delivery_date: date) -> dict[int, StopPin]:
    """resident id → pin, with the vehicle loaded (its name is the reason text when it is off)."""
    rows = session.scalars(select(StopPin).where(StopPin.delivery_date == delivery_date)
                           .options(selectinload(StopPin.vehicle))).all()
    return {pin.resident_id: pin for pin in rows}


@dataclass(frozen=True)
class PinnedDoor:
    """One line of the dashboard's 「手動で固定」: whose door, on which van, and the orders to open."""
    resident_name: str
    vehicle_name: str
    order_ids: tuple[int, ...]


def pinned_doors(session: Session, delivery_date: date) -> list[PinnedDoor]:
    """The day's pins for the staff dashboard, by resident kana, each with its orders not cancelled."""
    pins = pins_for_day(session, delivery_date)
    if not pins:
        return []
    residents = {r.id: r for r in session.scalars(select(Resident).where(Resident.id.in_(pins)))}
    orders: dict[int, list[int]] = {}
    for order_id, resident_id in session.execute(
            select(Order.id, Order.resident_id).where(Order.delivery_date == delivery_date,
                                                      Order.resident_id.in_(pins),
                                                      Order.status != OrderStatus.CANCELLED).order_by(Order.id)):
        orders.setdefault(resident_id, []).append(order_id)
    ordered = sorted(pins, key=lambda rid: (residents[rid].kana or "", rid))
    return [PinnedDoor(residents[rid].name, pins[rid].vehicle.name, tuple(orders.get(rid, ())))
            for rid in ordered]
