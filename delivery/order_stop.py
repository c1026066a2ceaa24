"""Where an order is in the day's active plan: its run and door stop. The one answer to "when is my
delivery" for every audience: the office's order page, the resident's LINE order status and the phone
line's ETA call all read it here, so they cannot disagree."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from delivery.models import Plan, Run, RunStop, RunStopOrder
from orders.models import Order, OrderStatus
from residents.models import Resident


@dataclass(frozen=True)
class OrderStop:
    run_id: int
    seq: int
    eta: datetime
    status: str          # the stop's: pending | done | not_at_home | refused


@dataclass(frozen=True)
class EtaCall:
    """One door to ring on the delivery day: who, on which number, and when the van is due."""

    order_id: int        # the door's first order still to deliver: the call's answer is keyed by it
    name: str
    number: str
    eta: datetime


def order_stop(session: Session, *, order_id: int, delivery_date: date) -> OrderStop | None:
    """The order's door stop in the active plan of ``delivery_date`` (the order's delivery day), or None
    (not planned, or left out). An order staff moved to another day may still sit on the old day's plan
    until it is re-made: the day keeps that stale stop out. An order met at two doors (goods from two
    shops) gives its first visit, the one the ETA call names."""
    row = session.execute(
        select(RunStop.run_id, RunStop.seq, RunStop.eta, RunStop.status)
        .join(Run, Run.id == RunStop.run_id).join(Plan, Plan.id == Run.plan_id)
        .join(RunStopOrder, RunStopOrder.run_stop_id == RunStop.id)
        .where(Plan.delivery_date == delivery_date, Plan.active.is_(True),
               RunStopOrder.order_id == order_id, RunStop.kind == "delivery")
        .order_by(RunStop.eta, RunStop.id)
    ).first()
    return None if row is None else OrderStop(run_id=row[0], seq=row[1], eta=row[2], status=row[3])


def stop_of_order(session: Session, order: Order) -> OrderStop | None:
    """``order_stop`` for an order at hand (the office's order page)."""
    return order_stop(session, order_id=order.id, delivery_date=order.delivery_date)


def eta_calls_of_day(session: Session, *, delivery_date: date) -> list[EtaCall]:
    """The doors of the day's active plan whose resident asked for an ETA call and has a number, one per
    door stop however many orders it brings, earliest first. Read-only: the caller queues the calls."""
    rows = session.execute(
        select(RunStop, Order, Resident)
        .join(Run, Run.id == RunStop.run_id).join(Plan, Plan.id == Run.plan_id)
        .join(RunStopOrder, RunStopOrder.run_stop_id == RunStop.id)
        .join(Order, Order.id == RunStopOrder.order_id).join(Resident, Resident.id == Order.resident_id)
        .where(Plan.delivery_date == delivery_date, Plan.active.is_(True), RunStop.kind == "delivery",
               Resident.wants_eta_call.is_(True), Order.status != OrderStatus.CANCELLED,
               # an order staff moved to another day is still on the old plan until it is re-made
               Order.delivery_date == delivery_date)
        .order_by(RunStop.eta, RunStop.id, RunStopOrder.position)
    ).all()
    calls: list[EtaCall] = []
    called: set[int] = set()
    for stop, order, resident in rows:
        number = resident.phone or resident.mobile_phone
        if not number or stop.id in called:
            continue
        called.add(stop.id)
        calls.append(EtaCall(order_id=order.id, name=resident.name, number=number, eta=stop.eta))
    return calls
