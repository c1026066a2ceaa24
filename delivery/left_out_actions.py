"""What staff do with an order a day's vans could not take: move it to the district's next delivery
day, or cancel it. Either way the resident (and family) are told, on their own channel.

A moved order keeps its lines, prices and stock reservation (the goods stay set aside for the
resident); only its day, and so its cutoff, change. A cancelled one gives its stock back.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from delivery.models import Plan, Run, RunStop, RunStopOrder
from orders import notifications
from orders.calendar import DeliverySlot, cutoff_for, format_date_ja, next_delivery_slot
from delivery.door_orders import cancel_order
from delivery.pins import unpin_if_door_empty
from orders.changes import get_order
from orders.errors import OrderError
from orders.models import Order, OrderStatus
from orders.placing import lock_district_for_booking
from core import audit

# An order already collected from the shops rides on its van; it cannot wait for another day.
MOVABLE = (OrderStatus.RECEIVED, OrderStatus.CONFIRMED)


def next_day_for(order: Order, now: datetime) -> DeliverySlot:
    """The district's first delivery day after the order's own, whose cutoff is still ahead of ``now``."""
    return next_delivery_slot(order.district, max(now, cutoff_for(order.district, order.delivery_date)))


def move_to_next_delivery_day(session: Session, *, order_id: int, actor: str, channel: str, now: datetime,
                              call: bool = True) -> Order:
    """Staff: deliver ``order_id`` on the district's next delivery day instead, keeping its stock.

    Called by the staff page for an order left out of a plan; it does not touch any plan (the old day's
    next version leaves the order out, and tells nobody twice: the resident is told here, once per day).
    """
    order = get_order(session, order_id=order_id, for_update=True)
    if order.status not in MOVABLE:
        raise OrderError("not_changeable", status=order.status.value)
    old_date = order.delivery_date
    # the day it moves to is read under the district lock a calendar save waits for (orders.placing)
    lock_district_for_booking(session, order.district_id)
    slot = next_day_for(order, now)
    left_out = _left_out_of_active_plan(session, order)
    order.delivery_date = slot.date
    order.cutoff_at = slot.cutoff_at
    order.updated_at = now
    session.flush()
    # the old day's pin, if this was the door's last open order there, would hold a later order
    unpin_if_door_empty(session, delivery_date=old_date, resident_id=order.resident_id, actor=actor,
                        channel=channel, now=now)
    audit.record(session, at=now, actor=actor, channel=channel, action="order.moved", subject_type="order",
                 subject_id=order.id, resident_id=order.resident_id, from_date=old_date.isoformat(),
                 to_date=slot.date.isoformat())
    notifications.order_moved(session, order, order.resident, now, old_date=old_date, left_out=left_out,
                              call=call)
    return order


def _left_out_of_active_plan(session: Session, order: Order) -> bool:
    """The day has a plan and the order is on none of its runs (so the resident hears 入りきりませんでした)."""
    plan_id = session.scalars(select(Plan.id).where(Plan.delivery_date == order.delivery_date,
                                                    Plan.active.is_(True))).first()
    if plan_id is None:
        return False
    on_run = session.scalars(select(RunStop.id).join(Run, Run.id == RunStop.run_id)
                             .join(RunStopOrder, RunStopOrder.run_stop_id == RunStop.id)
                             .where(Run.plan_id == plan_id, RunStopOrder.order_id == order.id)).first()
    return on_run is None


def cancel_left_out(session: Session, *, order_id: int, actor: str, now: datetime,
                    call: bool = True) -> Order:
    """Staff: cancel an order the day's vans could not take (after its cutoff too), give its stock back
    and tell the resident why. A repeat is a no-op, like ``cancel_order``."""
    order = get_order(session, order_id=order_id)
    day = format_date_ja(order.delivery_date)
    headline = (f"申し訳ありません。{day}のお届けの便に入りきらなかったため、ご注文を取り消しました。"
                if _left_out_of_active_plan(session, order) else "ご注文を取り消しました。")
    result = cancel_order(session, order_id=order_id, actor=actor, channel="staff", now=now,
                          after_cutoff=True, headline=headline)
    if not result.already_cancelled:
        # LINE and SMS went with the cancel (same keys: skipped here); a landline resident gets a call.
        notifications.tell(session, result.order, result.order.resident, now, event="cancelled",
                           kind="order_cancelled", call=call,
                           text=lambda who: f"{headline}（注文番号 {result.order.id}）")
    return result.order
