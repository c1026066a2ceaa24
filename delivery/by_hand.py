"""Staff put an order onto a van by hand: one the solver left out, or one moved from another van.

The order's pickups (one per shop it buys from) and its door stop are added at the end of the chosen
run of the day's active plan, after the van's last stop and before it drives back: nobody else's ETA
moves, so only the drivers, the shops concerned and this order's resident (and family) hear about it.
A move takes the whole door (every order handed over there) off its van first; that van's other stops
keep their times (it arrives early rather than late, and nobody is told a new time for nothing); a van
left with no stop at all loses its run, and is idle again.
The door is then pinned to that van (``delivery.pins``): a later re-plan keeps it there, wherever on
the run it fits best, until staff take the pin off (「固定を外す」). A van the plan left idle can be
chosen too (``delivery.van_choices``): it gets an empty run first, then the door as on any run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import uuid4

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload

from delivery.distances import DistanceProvider, Point
from delivery.leftovers import on_runs
from delivery.models import Plan, Run, RunStop, RunStopOrder, UnassignedOrder, Vehicle
from delivery.notices import ShopLink, plan_messages
from delivery.pins import pin_door
from delivery.problem_builder import ServiceTimes
from delivery.van_choices import Target, idle_vehicle, start_idle_run
from orders.calendar import format_date_ja
from orders.changes import get_order
from orders.models import Order, OrderStatus
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


def overrun_notes_ja(late: bool, past_shift: bool) -> str:
    """The staff page's warning after a change by hand: the door after its window, the van after its shift."""
    return ("（ご希望の時間帯を過ぎます）" if late else "") + ("（勤務時間を過ぎます）" if past_shift else "")


def assign_by_hand(session: Session, *, order_id: int, to: Target, actor: str, now: datetime,
                   distances: DistanceProvider, driver_link: Callable[[Run], str],
                   shop_link: ShopLink | None = None, times: ServiceTimes = ServiceTimes()) -> Assigned:
    """Append ``order_id``'s stops to the run ``to`` names in its day's active plan (an idle van's: a new
    run) and queue what changed (the driver's run, the shops' picking lists, the resident's ETA) in the
    caller's transaction.

    Refuses an order that is not confirmed, is already on a run, or is for another day than the run.
    It never reorders or re-times the run's existing stops. Pins the door to the run's van for re-plans.
    """
    order = get_order(session, order_id=order_id, for_update=True)
    plan, chosen = _target(session, to, order.delivery_date)
    if order.status is not OrderStatus.CONFIRMED:
        raise AssignError("not_assignable", "この注文は便に追加できる状態ではありません。")
    if order.delivery_date != plan.delivery_date:
        raise AssignError("other_day", "この注文は別の日のお届けです。")
    if order.id in on_runs(plan):
        raise AssignError("already_on_a_run", "この注文はすでに便に入っています。")
    before = plan_messages(session, plan, driver_link, shop_link)
    run = chosen if isinstance(chosen, Run) else start_idle_run(session, plan, chosen)
    door, clock = _append_door(run, [order], order.window_start, order.window_end, now=now,
                               distances=distances, times=times)
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
    pin_door(session, delivery_date=plan.delivery_date, resident_id=order.resident_id, vehicle_id=run.vehicle_id,
             actor=actor, now=now)
    queued = _queue_changes(session, f"plan:{plan.id}:hand:{order.id}", before,
                            plan_messages(session, plan, driver_link, shop_link), now)
    local_end = run.end_at.astimezone(JST).strftime("%H:%M")
    return Assigned(run, door, late=clock.astimezone(JST).strftime("%H:%M") > order.window_end,
                    past_shift=local_end > run.vehicle.shift_end, messages=queued)


@dataclass(frozen=True)
class Moved:
    run: Run               # the van it now rides on
    source_vehicle: str    # the name of the van it came off
    source_removed: bool   # that van's run had no stop left and was removed (the van is idle again)
    stop: RunStop          # the door, at the end of ``run``
    order_ids: list[int]   # every order handed over at that door (they move together)
    late: bool
    past_shift: bool
    messages: int


def move_by_hand(session: Session, *, order_id: int, to: Target, actor: str, now: datetime,
                 distances: DistanceProvider, driver_link: Callable[[Run], str],
                 shop_link: ShopLink | None = None, times: ServiceTimes = ServiceTimes()) -> Moved:
    """Move ``order_id``'s door (with every order handed over there, so the house stays one stop) from
    its van to the end of the run ``to`` names in the same active plan (an idle van's: a new run), and
    queue what changed.

    Refuses when the order is on no run (use ``assign_by_hand``), already on that run, or when anything
    at the door has happened: the goods collected, the door visited. Pins the door to the new van.
    """
    plan, chosen = _target(session, to, get_order(session, order_id=order_id).delivery_date)
    door = session.scalars(
        select(RunStop).join(Run, Run.id == RunStop.run_id)
        .join(RunStopOrder, RunStopOrder.run_stop_id == RunStop.id)
        .where(Run.plan_id == plan.id, RunStopOrder.order_id == order_id, RunStop.kind == "delivery")
    ).one_or_none()
    if door is None:
        raise AssignError("not_on_a_run", "この注文はまだ便に入っていません。「この便の最後に追加」を使ってください。")
    source = door.run
    if isinstance(chosen, Run) and source.id == chosen.id:
        raise AssignError("same_run", "この注文はすでにこの便に入っています。")
    moved = sorted(door.order_ids)
    orders = [get_order(session, order_id=i, for_update=True) for i in moved]   # ascending: no deadlock
    pickups = [s for s in source.stops if s.kind == "pickup" and set(s.picks) & set(moved)]
    under_way = (door.status != "pending" or any(s.status != "pending" for s in pickups)
                 or any(o.status is not OrderStatus.CONFIRMED for o in orders))
    if under_way:
        raise AssignError("under_way", "この注文はもう積み込みや配達が始まっているため、別の車両には移せません。")
    before = plan_messages(session, plan, driver_link, shop_link)
    run = chosen if isinstance(chosen, Run) else start_idle_run(session, plan, chosen)

    route_before = list(source.stops)
    window = (door.window_start or orders[0].window_start, door.window_end or orders[0].window_end)
    for stop in pickups:
        left = [i for i in stop.picks if i not in moved]
        stop.service_s = max(0, stop.service_s - times.pickup_per_order_s * (len(stop.picks) - len(left)))
        stop.picks = left
    for stop in [door, *(s for s in pickups if not s.picks)]:
        source.stops.remove(stop)                    # delete-orphan: the row goes
    for seq, stop in enumerate(source.stops, start=1):
        stop.seq = seq
    saved_m = _saved_by_removal(source, route_before, source.stops, distances)
    source.distance_m = max(0, source.distance_m - saved_m)
    source_name = source.vehicle.name
    emptied = not source.stops
    session.flush()     # the stops go first, their door rows with them, before the run itself
    if emptied:
        _remove_empty_run(session, plan, source, actor=actor, now=now)

    new_door, clock = _append_door(run, orders, *window, now=now, distances=distances, times=times)
    plan.total_distance_m = sum(r.distance_m for r in plan.runs)
    plan.total_duration_s = sum(r.duration_s for r in plan.runs)
    session.flush()
    audit.record(session, at=now, actor=actor, channel="staff", action="plan.moved_by_hand",
                 subject_type="order", subject_id=order_id, order_ids=moved, plan_id=plan.id,
                 from_run_id=source.id, run_id=run.id, stop_id=new_door.id)
    pin_door(session, delivery_date=plan.delivery_date, resident_id=orders[0].resident_id,
             vehicle_id=run.vehicle_id, actor=actor, now=now)
    # a fresh key per move (a row id can come back on SQLite once its row is deleted), so an order moved
    # there and back is told both times; the move is one transaction, so nothing can send it twice
    key = f"plan:{plan.id}:move:{order_id}:{uuid4().hex[:12]}"
    after = plan_messages(session, plan, driver_link, shop_link)
    queued = _queue_changes(session, key, before, after, now)
    if emptied:
        queued += _queue_run_gone(session, key, before, after, plan.delivery_date, source_name, now)
    local_end = run.end_at.astimezone(JST).strftime("%H:%M")
    return Moved(run, source_name, emptied, new_door, moved,
                 late=clock.astimezone(JST).strftime("%H:%M") > window[1],
                 past_shift=local_end > run.vehicle.shift_end, messages=queued)


def _remove_empty_run(session: Session, plan: Plan, run: Run, *, actor: str, now: datetime) -> None:
    """Delete a run the move left without a stop, so the van is idle again (「空き」 in the choices, no
    0 km row on the dashboard, no empty route for its driver). The audit entry is the run's tombstone:
    the driver's old link reads it to say the run is gone and point to their current one
    (``delivery.runs.removed_run``). SQLite may give the deleted id to the next run (max(rowid) + 1):
    the link carries the run's key, so it never opens that run, and the key and link version kept here
    pick this tombstone among the id's and refuse a revoked link."""
    audit.record(session, at=now, actor=actor, channel="staff", action="plan.run_removed",
                 subject_type="run", subject_id=run.id, plan_id=plan.id, vehicle_id=run.vehicle_id,
                 driver_id=run.driver_id, delivery_date=plan.delivery_date.isoformat(), reason="no_stop_left",
                 link_key=run.link_key, link_version=run.link_version or 0)
    session.delete(run)
    session.flush()
    session.expire(plan, ["runs"])


def _queue_run_gone(session: Session, key: str, before: dict[tuple[str, str, str], str],
                    after: dict[tuple[str, str, str], str], day: date, vehicle_name: str, now: datetime) -> int:
    """Tell the removed run's driver it is gone: without it they hold a route with a door on it."""
    queued = 0
    for channel, recipient, kind in sorted(k for k in before if k[2] == "driver_run" and k not in after):
        text = (f"（更新）【配達ルート】{format_date_ja(day)} {vehicle_name}の便はなくなりました"
                "（配達先がほかの車両に移りました）。出発しないでください。")
        payload: dict[str, object] = ({"messages": [{"type": "text", "text": text}]}
                                      if channel == "line" else {"body": text})
        enqueue(session, channel=channel, recipient=recipient, kind=kind, payload=payload, now=now,
                dedupe_key=f"{key}:run_gone:{channel}:{recipient}")
        queued += 1
    return queued


def _target(session: Session, to: Target, delivery_date: date) -> tuple[Plan, Run | Vehicle]:
    """The plan and run ``to`` names, or (for an idle van) the day's active plan and the checked van, whose
    run is made only once the messages before the change are read (so its driver is told of a new run)."""
    if to.kind == "vehicle":
        return idle_vehicle(session, to, delivery_date)
    run = _active_run(session, to.id)
    return run.plan, run


def _active_run(session: Session, run_id: int) -> Run:
    run = session.scalars(select(Run).where(Run.id == run_id)
                          .options(selectinload(Run.plan), selectinload(Run.stops), selectinload(Run.vehicle))
                          ).one_or_none()
    if run is None or not run.plan.active:
        raise NotFound("unknown_run", "その便は見つかりませんでした（計画が新しくなっていれば、開き直してください）。")
    return run


def _saved_by_removal(run: Run, before: Sequence[RunStop], after: Sequence[RunStop],
                      distances: DistanceProvider) -> int:
    """Metres the van no longer drives once ``after`` (``before`` with stops taken out) is its route,
    depot to depot; one matrix over the old route serves both lengths."""
    depot = Point(run.vehicle.depot_lat, run.vehicle.depot_lon)
    matrix = distances.matrix([depot, *(Point(s.lat, s.lon) for s in before)])
    place = {id(stop): i for i, stop in enumerate(before, start=1)}

    def length(path: Sequence[int]) -> int:
        legs = [0, *path, 0]
        return sum(_leg(matrix.distance_m, a, b) for a, b in zip(legs, legs[1:]))

    return length(range(1, len(before) + 1)) - length([place[id(stop)] for stop in after])


def _append_door(run: Run, orders: Sequence[Order], window_start: str, window_end: str, *, now: datetime,
                 distances: DistanceProvider, times: ServiceTimes) -> tuple[RunStop, datetime]:
    """Add a pickup per shop the ``orders`` buy from and then their (one) door after the run's last stop,
    before the drive back; returns the door and its arrival time. The run's earlier stops keep their times."""
    plan = run.plan
    shops = sorted({line.shop_id: line.shop for order in orders for line in order.lines}.items())
    first = orders[0]
    resident = first.resident
    home = Point(resident.lat if resident.lat is not None else first.district.centre_lat,
                 resident.lon if resident.lon is not None else first.district.centre_lon)
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
        picks = [o.id for o in orders if any(line.shop_id == shop_id for line in o.lines)]
        clock = max(clock + timedelta(seconds=_leg(matrix.travel_s, i - 1, i)), day + _hhmm(shop.pickup_open))
        service = times.shop_setup_s + times.pickup_per_order_s * len(picks)
        run.stops.append(RunStop(seq=len(run.stops) + 1, kind="pickup", shop_id=shop_id, picks=picks,
                                 lat=shop.lat, lon=shop.lon, eta=clock, service_s=service))
        added_m += _leg(matrix.distance_m, i - 1, i)
        clock += timedelta(seconds=service)
    door_at = len(points) - 2
    clock = max(clock + timedelta(seconds=_leg(matrix.travel_s, door_at - 1, door_at)), day + _hhmm(window_start))
    handed = sum(len({line.shop_id for line in o.lines}) for o in orders)
    service = (times.door_setup_s + times.handover_s * handed
               + times.cash_s * sum(1 for o in orders if o.payment_method == "cash"))
    door = RunStop(seq=len(run.stops) + 1, kind="delivery", order_ids=[o.id for o in orders], lat=home.lat,
                   lon=home.lon, eta=clock, window_start=window_start, window_end=window_end, service_s=service)
    run.stops.append(door)
    added_m += _leg(matrix.distance_m, door_at - 1, door_at) + _leg(matrix.distance_m, door_at, door_at + 1)
    run.end_at = max(run.end_at, clock + timedelta(seconds=service + _leg(matrix.travel_s, door_at, door_at + 1)))
    run.distance_m = max(0, run.distance_m + added_m)
    run.duration_s = int((run.end_at - run.start_at).total_seconds())
    for order in orders:
        if order.district.name not in (run.districts or "").split("・"):
            run.districts = "・".join(filter(None, [run.districts, order.district.name]))
    return door, clock


def _queue_changes(session: Session, key: str, before: dict[tuple[str, str, str], str],
                   after: dict[tuple[str, str, str], str], now: datetime) -> int:
    """The messages whose text the change by hand changed, as queue_plan_messages sends a re-plan's
    (``key`` is unique per change, so an order moved there and back is told both times)."""
    queued = 0
    for (channel, recipient, kind), text in sorted(after.items()):
        old = before.get((channel, recipient, kind))
        if old == text:
            continue
        text = "（更新）" + text if old is not None else text
        payload: dict[str, object] = ({"messages": [{"type": "text", "text": text[:5000]}]}
                                      if channel == "line" else {"body": text})
        enqueue(session, channel=channel, recipient=recipient, kind=kind, payload=payload, now=now,
                dedupe_key=f"{key}:{kind}:{channel}:{recipient}")
        queued += 1
    return queued


def _leg(table: Sequence[Sequence[int]], i: int, j: int) -> int:
    return int(table[i][j])


def _hhmm(text: str) -> timedelta:
    hours, minutes = text.split(":")
    return timedelta(hours=int(hours), minutes=int(minutes))
