"""Staff put an order the solver left out onto a van by hand.

The order's pickups (one per shop it buys from) and its door stop are added at the end of the chosen
run of the day's active plan, after the van's last stop and before it drives back: nobody else's ETA
moves, so only the driver, the shops concerned and this order's resident (and family) hear about it.
A later re-plan decides afresh (the order is then planned like any other).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload

from delivery.distances import DistanceProvider, Point
from delivery.leftovers import on_runs
from delivery.models import Run, RunStop, UnassignedOrder
from delivery.notices import ShopLink, plan_messages
from delivery.problem_builder import ServiceTimes
from orders.changes import get_order
from orders.models import OrderStatus
from core import audit
from core.clock import JST
from core.errors import DomainError, NotFound
from outbox.service import enqueue


class AssignError(DomainError):
    pass


@dataclass(frozen=True)
class Assigned:
    run: Run
    stop: RunStop          # the door
    late: bool             # the door is after the resident's window closes
    past_shift: bool       # the van is back after its shift ends
    messages: int


def assign_by_hand(session: Session, *, order_id: int, run_id: int, actor: str, now: datetime,
                   distances: DistanceProvider, driver_link: Callable[[Run], str],
                   shop_link: ShopLink | None = None, times: ServiceTimes = ServiceTimes()) -> Assigned:
    """Append ``order_id``'s stops to run ``run_id`` of its day's active plan and queue what changed
    (the driver's run, the shops' picking lists, the resident's ETA) in the caller's transaction.

    Refuses an order that is not confirmed, is already on a run, or is for another day than the run.
    It never reorders or re-times the run's existing stops.
    """
    run = session.scalars(select(Run).where(Run.id == run_id)
                          .options(selectinload(Run.plan), selectinload(Run.stops), selectinload(Run.vehicle))
                          ).one_or_none()
    if run is None or not run.plan.active:
        raise NotFound("unknown_run", "その便は見つかりませんでした（計画が新しくなっていれば、開き直してください）。")
    plan = run.plan
    order = get_order(session, order_id=order_id, for_update=True)
    if order.status is not OrderStatus.CONFIRMED:
        raise AssignError("not_assignable", "この注文は便に追加できる状態ではありません。")
    if order.delivery_date != plan.delivery_date:
        raise AssignError("other_day", "この注文は別の日のお届けです。")
    if order.id in on_runs(plan):
        raise AssignError("already_on_a_run", "この注文はすでに便に入っています。")
    before = plan_messages(session, plan, driver_link, shop_link)

    shops = sorted({line.shop_id: line.shop for line in order.lines}.items())
    resident = order.resident
    home = Point(resident.lat if resident.lat is not None else order.district.centre_lat,
                 resident.lon if resident.lon is not None else order.district.centre_lon)
    depot = Point(run.vehicle.depot_lat, run.vehicle.depot_lon)
    last = run.stops[-1] if run.stops else None
    origin = Point(last.lat, last.lon) if last else depot
    points = [origin, *(Point(shop.lat, shop.lon) for _, shop in shops), home, depot]
    matrix = distances.matrix(points)
    # after the van's last stop, and never in the past when staff add it during the day
    clock = max((last.eta + timedelta(seconds=last.service_s)) if last else run.start_at, now)
    added_m = -_leg(matrix.distance_m, 0, len(points) - 1)   # the old drive back is replaced
    day = datetime.combine(plan.delivery_date, datetime.min.time(), tzinfo=JST)
    for i, (shop_id, shop) in enumerate(shops, start=1):
        clock = max(clock + timedelta(seconds=_leg(matrix.travel_s, i - 1, i)), day + _hhmm(shop.pickup_open))
        service = times.shop_setup_s + times.pickup_per_order_s
        run.stops.append(RunStop(seq=len(run.stops) + 1, kind="pickup", shop_id=shop_id, picks=[order.id],
                                 lat=shop.lat, lon=shop.lon, eta=clock, service_s=service))
        added_m += _leg(matrix.distance_m, i - 1, i)
        clock += timedelta(seconds=service)
    door_at = len(points) - 2
    clock = max(clock + timedelta(seconds=_leg(matrix.travel_s, door_at - 1, door_at)),
                day + _hhmm(order.window_start))
    service = times.door_setup_s + times.handover_s * len(shops) + (times.cash_s if order.payment_method == "cash" else 0)
    door = RunStop(seq=len(run.stops) + 1, kind="delivery", order_ids=[order.id], lat=home.lat, lon=home.lon,
                   eta=clock, window_start=order.window_start, window_end=order.window_end, service_s=service)
    run.stops.append(door)
    added_m += _leg(matrix.distance_m, door_at - 1, door_at) + _leg(matrix.distance_m, door_at, door_at + 1)
    run.end_at = max(run.end_at, clock + timedelta(seconds=service + _leg(matrix.travel_s, door_at, door_at + 1)))
    run.distance_m = max(0, run.distance_m + added_m)
    run.duration_s = int((run.end_at - run.start_at).total_seconds())
    if order.district.name not in (run.districts or "").split("・"):
        run.districts = "・".join(filter(None, [run.districts, order.district.name]))
    removed = session.execute(delete(UnassignedOrder).where(UnassignedOrder.plan_id == plan.id,
                                                            UnassignedOrder.order_id == order.id)).rowcount
    plan.unassigned_count = max(0, plan.unassigned_count - (removed or 0))
    plan.order_count += 1
    plan.total_distance_m = sum(r.distance_m for r in plan.runs)
    plan.total_duration_s = sum(r.duration_s for r in plan.runs)
    session.flush()
    session.expire(plan, ["unassigned"])
    audit.record(session, at=now, actor=actor, channel="staff", action="plan.assigned_by_hand",
                 subject_type="order", subject_id=order.id, plan_id=plan.id, run_id=run.id, stop_id=door.id)
    queued = _queue_changes(session, plan.id, order.id, before, plan_messages(session, plan, driver_link, shop_link), now)
    local_end = run.end_at.astimezone(JST).strftime("%H:%M")
    return Assigned(run, door, late=clock.astimezone(JST).strftime("%H:%M") > order.window_end,
                    past_shift=local_end > run.vehicle.shift_end, messages=queued)


def _queue_changes(session: Session, plan_id: int, order_id: int, before: dict[tuple[str, str, str], str],
                   after: dict[tuple[str, str, str], str], now: datetime) -> int:
    """The messages whose text the hand assignment changed, as queue_plan_messages sends a re-plan's."""
    queued = 0
    for (channel, recipient, kind), text in sorted(after.items()):
        old = before.get((channel, recipient, kind))
        if old == text:
            continue
        text = "（更新）" + text if old is not None else text
        payload: dict[str, object] = ({"messages": [{"type": "text", "text": text[:5000]}]}
                                      if channel == "line" else {"body": text})
        enqueue(session, channel=channel, recipient=recipient, kind=kind, payload=payload, now=now,
                dedupe_key=f"plan:{plan_id}:hand:{order_id}:{kind}:{channel}:{recipient}")
        queued += 1
    return queued


def _leg(table: Sequence[Sequence[int]], i: int, j: int) -> int:
    return int(table[i][j])


def _hhmm(text: str) -> timedelta:
    hours, minutes = text.split(":")
    return timedelta(hours=int(hours), minutes=int(minutes))
