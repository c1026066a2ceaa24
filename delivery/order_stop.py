"""Where an order is in the day's active plan: its run and door stop, for the office's order page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from delivery.models import Plan, Run, RunStop, RunStopOrder
from orders.models import Order


@dataclass(frozen=True)
class OrderStop:
    run_id: int
    seq: int
    eta: datetime
    status: str          # the stop's: pending | done | not_at_home | refused


def stop_of_order(session: Session, order: Order) -> OrderStop | None:
    """The order's door stop in the active plan of its delivery day, or None (not planned, or left out)."""
    row = session.execute(
        select(RunStop.run_id, RunStop.seq, RunStop.eta, RunStop.status)
        .join(Run, Run.id == RunStop.run_id).join(Plan, Plan.id == Run.plan_id)
        .join(RunStopOrder, RunStopOrder.run_stop_id == RunStop.id)
        .where(Plan.delivery_date == order.delivery_date, Plan.active.is_(True),
               RunStopOrder.order_id == order.id, RunStop.kind == "delivery")
    ).first()
    return None if row is None else OrderStop(run_id=row[0], seq=row[1], eta=row[2], status=row[3])
