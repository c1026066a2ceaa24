"""Orders a plan leaves out, and what their residents hear, queued with the plan.

* An order of the plan's day still to deliver that is on none of its runs ("left out": the solver could
  not fit it, or there was no van) → the resident (and family) are told on their own channel, with the
  coordinator's number: 「申し訳ありません。…お届けの便に入りきりませんでした。担当者からお電話します」.
* An order that had an ETA in the version being replaced and is on no run of the new one → that ETA is
  retracted: left out (the notice above), cancelled (the cancel message), moved to another day (the new
  day). Cancels and moves tell the resident when they happen; the retraction here uses the same outbox
  keys, so it only goes out when nobody was told.

Each notice is keyed by its situation (``order:{id}:left_out:{day}:{n}``, n = the last plan version that
had the order on a run), so an identical re-plan tells nobody again, while an order that got an ETA
and was dropped again is told again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from delivery.models import Plan, Run, RunStop, RunStopOrder
from orders import notifications
from orders.calendar import format_date_ja
from orders.models import Order, OrderStatus
from orders.notifications import Recipient
from outbox.models import OutboxMessage

TO_DELIVER = (OrderStatus.CONFIRMED, OrderStatus.PICKED, OrderStatus.OUT_FOR_DELIVERY)
NOT_PLANNED_JA = "この計画の便に入っていません"


@dataclass(frozen=True)
class LeftOut:
    order: Order       # resident and district loaded
    reason: str        # Japanese, for staff


def on_runs(plan: Plan) -> set[int]:
    """Orders with a door stop on one of the plan's runs (a door stop may bring several)."""
    return {order_id for run in plan.runs for s in run.stops for order_id in s.order_ids}


def left_out_orders(session: Session, plan: Plan) -> list[LeftOut]:
    """The plan's day's orders still to deliver that are on none of its runs, with the reason the
    solver gave; orders placed while the plan was being made are not listed (the next plan takes them)."""
    waiting = set((plan.diff or {}).get("waiting_for_next_plan") or ())
    reasons = {u.order_id: u.reason for u in plan.unassigned}
    planned = on_runs(plan)
    orders = session.scalars(
        select(Order).where(Order.delivery_date == plan.delivery_date, Order.status.in_(TO_DELIVER))
        .order_by(Order.id).options(selectinload(Order.resident), selectinload(Order.district))).all()
    return [LeftOut(o, reasons.get(o.id, NOT_PLANNED_JA)) for o in orders
            if o.id not in planned and o.id not in waiting]


def queue_leftover_notices(session: Session, plan: Plan, previous: Plan | None, *, now: datetime,
                           config: Mapping[str, Any]) -> int:
    """Called with the plan, in its transaction: tell the residents of left-out orders, and retract
    the ETA of every order that had one in ``previous`` and is on no run now. Returns how many
    messages were queued (none on an identical re-plan)."""
    phone = str(config.get("COORDINATOR_PHONE") or "")
    day = format_date_ja(plan.delivery_date)
    left = left_out_orders(session, plan)
    last_on_run = _last_version_on_a_run(session, plan, [item.order.id for item in left])
    queued = 0
    for item in left:
        order = item.order

        def text(who: Recipient, order: Order = order) -> str:
            if who.family:
                return (f"申し訳ありません。{order.resident.name}さんのご注文（注文番号 {order.id}）は、{day}の"
                        f"お届けの便に入りきりませんでした。担当者から{order.resident.name}さんにお電話します（{phone}）。")
            return (f"申し訳ありません。{day}のお届けの便に入りきりませんでした（注文番号 {order.id}）。"
                    f"担当者からお電話します（{phone}）。")

        event = f"left_out:{plan.delivery_date.isoformat()}:{last_on_run.get(order.id, 0)}"
        queued += notifications.tell(session, order, order.resident, now, event=event, kind="order_left_out",
                                     text=text, call=True)
    if previous is None:
        return queued
    # per order: when one of a door's two orders leaves, only that one is retracted
    gone = {order_id for run in previous.runs for s in run.stops if s.status == "pending"
            for order_id in s.order_ids}
    gone -= on_runs(plan) | {item.order.id for item in left}
    for order in session.scalars(select(Order).where(Order.id.in_(gone)).order_by(Order.id)
                                 .options(selectinload(Order.resident), selectinload(Order.district))):
        queued += _retract(session, order, plan, now=now, phone=phone,
                           call=_was_called(session, order, plan))
    return queued


def _retract(session: Session, order: Order, plan: Plan, *, now: datetime, phone: str,
             call: bool) -> int:
    """An ETA the resident holds for an order no longer on a run, corrected in the words of why."""
    day = format_date_ja(plan.delivery_date)
    resident = order.resident

    def whose(who: Recipient) -> str:
        return f"{resident.name}さんの" if who.family else ""

    if order.status is OrderStatus.CANCELLED:
        return notifications.tell(
            session, order, resident, now, event="cancelled", kind="order_cancelled", call=call,
            text=lambda who: f"{whose(who)}ご注文（注文番号 {order.id}）は取り消しとなりました。{day}のお届けはありません。")
    if order.delivery_date != plan.delivery_date:
        return notifications.order_moved(session, order, resident, now, old_date=plan.delivery_date,
                                         left_out=False, call=call)
    return notifications.tell(
        session, order, resident, now, event=f"retracted:{plan.delivery_date.isoformat()}:{plan.version}",
        kind="eta_retracted", call=call,
        text=lambda who: (f"{whose(who)}ご注文（注文番号 {order.id}）の{day}のお届け予定は取りやめになりました。"
                          f"担当者からお電話します（{phone}）。"))


def _last_version_on_a_run(session: Session, plan: Plan, order_ids: list[int]) -> dict[int, int]:
    """order id → the newest version of the day's plan that had it on a run (its last ETA)."""
    if not order_ids:
        return {}
    rows = session.execute(
        select(RunStopOrder.order_id, func.max(Plan.version))
        .join(RunStop, RunStop.id == RunStopOrder.run_stop_id).join(Run, Run.id == RunStop.run_id)
        .join(Plan, Plan.id == Run.plan_id)
        .where(Plan.delivery_date == plan.delivery_date, RunStopOrder.order_id.in_(order_ids))
        .group_by(RunStopOrder.order_id)).all()
    return {int(order_id): int(version) for order_id, version in rows}


def _was_called(session: Session, order: Order, plan: Plan) -> bool:
    """The resident heard the ETA on the phone (voice/eta.py), so the retraction is a call too. The call
    is one per door, keyed by the door's first order: any of the resident's orders that day counts."""
    day = plan.delivery_date.isoformat()
    theirs = session.scalars(select(Order.id).where(Order.resident_id == order.resident_id,
                                                    Order.delivery_date == plan.delivery_date)).all()
    keys = [f"eta-call:{order_id}:{day}" for order_id in {order.id, *theirs}]
    return session.scalars(select(OutboxMessage.id).where(OutboxMessage.dedupe_key.in_(keys))).first() is not None
