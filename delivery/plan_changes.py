"""What a new plan version changed, in words for the coordinator, and which orders a plan does not know
yet (placed after it was made): both shown on staff pages. Functions take a session, never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from core.clock import JST
from delivery.models import Plan, Run, UnassignedOrder
from orders.models import Order, OrderStatus

# An ETA that moves less than this is not worth the coordinator's attention.
ETA_NOTICE_MINUTES = 5


@dataclass(frozen=True)
class PlanChanges:
    version: int
    first: bool                 # no previous version to compare with
    added: list[str]            # 「注文12 → 軽バン1号」
    dropped: list[str]          # 「注文7（軽バン2号から外れました）」
    moved: list[str]            # 「注文9：軽バン1号 → 軽バン2号」
    eta: list[str]              # 「注文3：10:20 → 10:45」
    waiting: list[int]          # placed while planning: the next plan takes them

    @property
    def nothing_changed(self) -> bool:
        return not (self.added or self.dropped or self.moved or self.eta)


def _where(plan: Plan | None) -> dict[int, tuple[str, datetime]]:
    """order id → (van name, ETA) on the plan's runs."""
    out: dict[int, tuple[str, datetime]] = {}
    for run in plan.runs if plan is not None else ():
        for stop in run.stops:
            if stop.kind == "delivery":
                for order_id in stop.order_ids:
                    out[order_id] = (run.vehicle.name, stop.eta)
    return out


def _load(session: Session, plan_id: int | None) -> Plan | None:
    if plan_id is None:
        return None
    return session.scalars(select(Plan).where(Plan.id == plan_id).options(
        selectinload(Plan.runs).selectinload(Run.stops), selectinload(Plan.runs).selectinload(Run.vehicle))).first()


def _hhmm(at: datetime) -> str:
    return at.astimezone(JST).strftime("%H:%M")


def plan_changes(session: Session, plan_id: int) -> PlanChanges | None:
    plan = _load(session, plan_id)
    if plan is None:
        return None
    diff = plan.diff or {}
    previous = _load(session, diff.get("previous_plan_id"))
    before, after = _where(previous), _where(plan)
    added = [f"注文{o} → {after[o][0]}" for o in sorted(set(after) - set(before))]
    dropped = [f"注文{o}（{before[o][0]}から外れました）" for o in sorted(set(before) - set(after))]
    moved = [f"注文{o}：{before[o][0]} → {after[o][0]}" for o in sorted(set(before) & set(after))
             if before[o][0] != after[o][0]]
    eta = [f"注文{o}：{_hhmm(before[o][1])} → {_hhmm(after[o][1])}" for o in sorted(set(before) & set(after))
           if before[o][0] == after[o][0]
           and abs((after[o][1] - before[o][1]).total_seconds()) >= ETA_NOTICE_MINUTES * 60]
    return PlanChanges(plan.version, previous is None, added, dropped, moved, eta,
                       list(diff.get("waiting_for_next_plan") or []))


def orders_after_plan(session: Session, plan: Plan) -> list[Order]:
    """The day's open orders the active plan has never seen: on none of its runs and not left out by it
    (placed, or moved to this day, after it was made). The coordinator re-plans to take them."""
    known = {order_id for run in plan.runs for stop in run.stops for order_id in stop.order_ids}
    known |= set(session.scalars(select(UnassignedOrder.order_id).where(UnassignedOrder.plan_id == plan.id)))
    orders = session.scalars(select(Order).where(
        Order.delivery_date == plan.delivery_date, Order.status == OrderStatus.CONFIRMED)
        .order_by(Order.created_at, Order.id).options(selectinload(Order.resident))).all()   # the page names them
    return [order for order in orders if order.id not in known]
