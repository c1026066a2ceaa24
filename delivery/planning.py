"""Daily planning: a day's confirmed orders → an optimised set of runs, stored as a new plan version.

Three steps, so that the solver never runs inside a database transaction (on SQLite a write
transaction holds the database's write lock, and orders must keep flowing while the solver thinks):

1. ``prepare_day(session, ...)`` reads the orders and the fleet and builds the problem (read-only);
2. ``delivery.routing.solve`` plans it (pure, no database);
3. ``store_plan(session, ...)`` writes the plan, re-checking that every order is still confirmed, and
   queues picking lists, drivers' runs and residents' ETA windows in the outbox.

``plan_day`` in ``delivery/runner.py`` chains them with the right transactions for the CLI, the staff
page and the cutoff job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from delivery.door_stops import route_stops
from delivery.models import Driver, Plan, PlanningTrigger, Run, RunStop, UnassignedOrder, Vehicle
from delivery.pins import PIN_OFF, pin_off_ja, pins_for_day
from delivery.problem import RoutePlan
from delivery.problem_builder import BuiltProblem, MatrixFn, ServiceTimes, build_problem
from delivery.whole_orders import partly_unassigned
from orders.models import Order, OrderLine, OrderStatus
from core import audit
from core.clock import JST

REASONS_JA = {
    "window_unreachable": "ご希望の時間帯に間に合う車両がありません",
    "shift_too_short": "配達員の勤務時間内に回れません",
    "capacity": "荷物が車両に積みきれません",
    "vehicle_not_allowed": "担当できる車両がありません",
    "pair_infeasible": "お店での集荷とお届けを時間内につなげられません",
    "fleet_capacity": "車両の積載量が足りません",
    "fleet_time": "車両の台数・時間が足りません",
    "split": "1台の車両にまとめてお届けできません",
    "shop_hours": "お店の集荷時間内に回りきれません",
    "door_window": "ご希望の時間帯に回りきれません",
}


@dataclass
class DayInput:
    """A snapshot of what to plan, taken in a read-only transaction."""

    delivery_date: date
    trigger: str
    built: BuiltProblem | None
    order_ids: list[int]
    previous_plan_id: int | None
    previous_routes: dict[str, list[str]] = field(default_factory=dict)
    already_done: bool = False  # the trigger was handled before: nothing to do
    # orders whose door is pinned by hand to a van not in this plan's fleet → the reason staff read
    pinned_off: dict[int, str] = field(default_factory=dict)


def day_start(delivery_date: date) -> datetime:
    return datetime.combine(delivery_date, time(0, 0), tzinfo=JST)


ON_BOARD = (OrderStatus.PICKED, OrderStatus.OUT_FOR_DELIVERY)
TO_DELIVER = (OrderStatus.CONFIRMED, *ON_BOARD)   # the orders a plan of the day carries


def prepare_day(session: Session, *, delivery_date: date, trigger: str, matrix: MatrixFn, now: datetime,
                times: ServiceTimes = ServiceTimes()) -> DayInput:
    """Read the day's orders still to deliver and the active fleet; build the routing problem.

    Re-planning keeps what is done: delivered orders are out of the problem, orders already picked up
    stay on the vehicle that carries them, and on the day itself no vehicle is planned to leave before
    ``now``.
    """
    done = session.scalars(select(PlanningTrigger).where(
        PlanningTrigger.delivery_date == delivery_date, PlanningTrigger.trigger == trigger)).first()
    previous = active_plan(session, delivery_date)
    if done is not None:
        return DayInput(delivery_date, trigger, None, [], previous.id if previous else None, already_done=True)
    orders = session.scalars(
        select(Order).where(Order.delivery_date == delivery_date,
                            Order.status.in_(TO_DELIVER))
        .order_by(Order.id)
        .options(selectinload(Order.lines).selectinload(OrderLine.shop), selectinload(Order.resident),
                 selectinload(Order.district))
    ).all()
    vehicles = session.scalars(select(Vehicle).where(Vehicle.active.is_(True)).order_by(Vehicle.id)).all()
    on_board = _carrying_vehicles(previous, {o.id for o in orders if o.status in ON_BOARD})
    # Doors pinned by hand ride only their van; goods on board stay where they physically are.
    pins, fleet = pins_for_day(session, delivery_date), {v.id for v in vehicles}
    pinned = {r: pin.vehicle_id for r, pin in pins.items() if pin.vehicle_id in fleet}
    pinned_off = {o.id: pin_off_ja(pins[o.resident_id].vehicle.name) for o in orders
                  if o.resident_id in pins and o.resident_id not in pinned and o.id not in on_board}
    to_plan = [o for o in orders if o.id not in pinned_off]
    local_now = now.astimezone(JST)
    not_before = (local_now.hour * 3600 + local_now.minute * 60) if local_now.date() == delivery_date else None
    built = (build_problem(to_plan, vehicles, matrix, times=times, on_board=on_board, pinned=pinned,
                           not_before_s=not_before)
             if to_plan and vehicles else None)
    return DayInput(delivery_date, trigger, built, [o.id for o in orders],
                    previous.id if previous else None,
                    previous_routes=dict(previous.routes) if previous else {}, pinned_off=pinned_off)


def _carrying_vehicles(previous: Plan | None, picked: set[int]) -> dict[int, int]:
    if previous is None or not picked:
        return {}
    return {order_id: run.vehicle_id for run in previous.runs for stop in run.stops
            for order_id in stop.order_ids if order_id in picked}


def active_plan(session: Session, delivery_date: date) -> Plan | None:
    """The day's active plan (the newest version), or None before the day has been planned."""
    return session.scalars(select(Plan).where(Plan.delivery_date == delivery_date, Plan.active.is_(True))
                           .order_by(Plan.version.desc())).first()


def store_plan(session: Session, day: DayInput, result: RoutePlan | None, *, now: datetime,
               actor: str, advice: str | None = None) -> Plan | None:
    """Write ``result`` as the new active plan for the day; None if the trigger was handled already.

    Orders cancelled while the solver ran are left out of the stored runs (and listed in the diff);
    orders placed meanwhile are not in this plan and are listed as waiting for the next one.
    """
    marker = PlanningTrigger(delivery_date=day.delivery_date, trigger=day.trigger, at=now)
    try:
        with session.begin_nested():
            session.add(marker)
    except IntegrityError:
        return None

    still_open = set(session.scalars(select(Order.id).where(
        Order.id.in_(day.order_ids), Order.status.in_(TO_DELIVER))).all()) if day.order_ids else set()
    arrived_since = session.scalars(select(Order.id).where(
        Order.delivery_date == day.delivery_date, Order.status.in_(TO_DELIVER),
        Order.id.not_in(day.order_ids) if day.order_ids else True)).all()

    previous = active_plan(session, day.delivery_date)
    version = (session.scalars(select(Plan.version).where(Plan.delivery_date == day.delivery_date)
                               .order_by(Plan.version.desc())).first() or 0) + 1
    if previous is not None:
        session.execute(update(Plan).where(Plan.delivery_date == day.delivery_date).values(active=False))
    plan = Plan(delivery_date=day.delivery_date, version=version, active=True, trigger=day.trigger,
                created_by=actor, created_at=now)
    session.add(plan)
    session.flush()
    marker.plan_id = plan.id

    solved = result if day.built is not None else None
    # An order is delivered whole or not at all: one unserved leg drops the order from the runs.
    dropped = partly_unassigned(day.built, solved) if solved is not None and day.built is not None else {}
    # order id → vehicle row id; finished stops are kept even when there is nothing left to solve
    assigned = _store_runs(session, plan, day, solved, still_open - set(dropped), finished_stops(previous))
    if solved is not None:
        plan.solver_seconds = solved.stats.seconds
        plan.advice = advice
        plan.strategy = f"{solved.stats.engine}/{solved.stats.strategy}"
        plan.routes = {r.vehicle_id: [v.stop_id for v in r.visits] for r in solved.routes}
        for order_id, reason in dropped.items():
            if order_id in still_open:
                plan.unassigned.append(UnassignedOrder(order_id=order_id, reason_code=reason,
                                                       reason=REASONS_JA.get(reason, reason)))
    for order_id, reason_ja in sorted(day.pinned_off.items()):
        if order_id in still_open:
            plan.unassigned.append(UnassignedOrder(order_id=order_id, reason_code=PIN_OFF, reason=reason_ja))
    plan.order_count = len(assigned)
    plan.unassigned_count = len(plan.unassigned)
    session.flush()
    plan.diff = _diff(previous, assigned, cancelled=sorted(set(day.order_ids) - still_open),
                      waiting=sorted(arrived_since))
    audit.record(session, at=now, actor=actor, channel="staff" if actor.startswith(("staff", "account:")) else "job",
                 action="plan.created", subject_type="plan", subject_id=plan.id,
                 delivery_date=day.delivery_date.isoformat(), version=version,
                 orders=plan.order_count, unassigned=plan.unassigned_count)
    return plan


def finished_stops(previous: Plan | None) -> dict[int, tuple[Run, list[RunStop]]]:
    """The stops each vehicle has already finished (done, not at home, refused) in the plan being
    replaced, in the order they were driven: a new version keeps them at the head of that vehicle's run."""
    out: dict[int, tuple[Run, list[RunStop]]] = {}
    for run in previous.runs if previous is not None else ():
        finished = [stop for stop in run.stops if stop.status != "pending"]
        if finished:
            out[run.vehicle_id] = (run, finished)
    return out


def _carried(stop: RunStop, seq: int) -> RunStop:
    return RunStop(seq=seq, kind=stop.kind, order_ids=list(stop.order_ids), shop_id=stop.shop_id,
                   picks=list(stop.picks), lat=stop.lat, lon=stop.lon, eta=stop.eta, window_start=stop.window_start,
                   window_end=stop.window_end, service_s=stop.service_s, status=stop.status,
                   done_at=stop.done_at, cash_collected_yen=stop.cash_collected_yen, note=stop.note,
                   why=stop.why)


def usual_drivers(session: Session) -> dict[int, Driver]:
    """Each vehicle's usual driver (an active driver assigned to it), by vehicle row id: who gets its run."""
    return {d.vehicle_id: d for d in session.scalars(
        select(Driver).where(Driver.active.is_(True), Driver.vehicle_id.is_not(None)).order_by(Driver.id)).all()
        if d.vehicle_id is not None}


def new_run(vehicle_id: int, driver: Driver | None, *, start_at: datetime, end_at: datetime,
            distance_m: int = 0, duration_s: int = 0) -> Run:
    """A run for ``vehicle_id`` driven by ``driver`` (its driver link starts at version 0), no stops yet:
    a planned route's, or an idle van's that staff put a door on by hand (``delivery/van_choices.py``)."""
    return Run(vehicle_id=vehicle_id, driver_id=driver.id if driver else None, start_at=start_at, end_at=end_at,
               distance_m=distance_m, duration_s=duration_s, max_load=[0, 0], link_version=0)


def _store_runs(session: Session, plan: Plan, day: DayInput, result: RoutePlan | None,
                still_open: set[int], finished: dict[int, tuple[Run, list[RunStop]]]) -> dict[int, int]:
    built = day.built
    origin = day_start(day.delivery_date)
    drivers = usual_drivers(session)
    orders = {o.id: o for o in session.scalars(select(Order).where(Order.id.in_(still_open))
                                               .options(selectinload(Order.district))).all()}
    assigned: dict[int, int] = {}
    finished = dict(finished)
    for route in result.routes if result is not None and built is not None else ():
        row = built.vehicle_rows[route.vehicle_id]
        driver = drivers.get(row.id)
        run = new_run(row.id, driver, start_at=origin + timedelta(seconds=route.start_time),
                      end_at=origin + timedelta(seconds=route.end_time),
                      distance_m=route.distance, duration_s=route.duration_s)
        if route.breaks:
            run.break_at = origin + timedelta(seconds=route.breaks[0].start)
            run.break_minutes = route.breaks[0].duration_s // 60
        districts: list[str] = []
        _, already = finished.pop(row.id, (None, []))
        for stop in already:
            run.stops.append(_carried(stop, len(run.stops) + 1))
            assigned.update({order_id: row.id for order_id in stop.order_ids})
        if already:
            run.start_at = min(run.start_at, already[0].eta)
        # one call per shop visit, one stop per door (however many of the resident's orders it hands over)
        planned, peak = route_stops(route, built, orders, still_open, origin)
        for stop in planned:
            stop.seq = len(run.stops) + 1
            run.stops.append(stop)
            for order_id in stop.order_ids:
                assigned[order_id] = row.id
                if orders[order_id].district.name not in districts:
                    districts.append(orders[order_id].district.name)
        run.max_load = peak
        run.districts = "・".join(districts)
        if run.stops:
            plan.runs.append(run)
    # Vans with nothing left to do keep their finished stops as they were driven.
    for vehicle_id, (old, already) in finished.items():
        run = Run(vehicle_id=vehicle_id, driver_id=old.driver_id, start_at=old.start_at, end_at=old.end_at,
                  distance_m=old.distance_m, duration_s=old.duration_s, max_load=list(old.max_load),
                  districts=old.districts)
        run.stops = [_carried(stop, seq) for seq, stop in enumerate(already, start=1)]
        assigned.update({order_id: vehicle_id for stop in already for order_id in stop.order_ids})
        plan.runs.append(run)
    plan.total_distance_m = sum(r.distance_m for r in plan.runs)
    plan.total_duration_s = sum(r.duration_s for r in plan.runs)
    return assigned


def _diff(previous: Plan | None, assigned: dict[int, int], *, cancelled: list[int],
          waiting: list[int]) -> dict[str, object]:
    before: dict[int, int] = {}
    if previous is not None:
        for run in previous.runs:
            for stop in run.stops:
                for order_id in stop.order_ids:
                    before[order_id] = run.vehicle_id
    return {
        "previous_plan_id": previous.id if previous else None,
        "added": sorted(set(assigned) - set(before)),
        "removed": sorted(set(before) - set(assigned)),
        "moved": sorted(o for o in set(assigned) & set(before) if assigned[o] != before[o]),
        "cancelled_during_planning": cancelled,
        "waiting_for_next_plan": waiting,
    }
