"""An order from several shops reaches the door on one van, complete or not at all."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy import select

from delivery.models import Run, RunStop, UnassignedOrder
from delivery.problem import Route, RoutePlan, Unassigned, Visit
from delivery.problem_builder import BuiltProblem
from delivery.runner import plan_day
from delivery.whole_orders import partly_unassigned
from orders.models import Order
from demo.seed import seed_demo
from demo.simulate import simulate_orders
from core.clock import JST
from core.db import db


def _plan(routes: dict[str, list[str]], unassigned: tuple[str, ...] = ()) -> RoutePlan:
    return RoutePlan(tuple(Route(v, tuple(Visit(s, 0, 0, 0, 0, ()) for s in stops), 0, 0, 0, 0, ())
                           for v, stops in routes.items()),
                     tuple(Unassigned(s, "fleet_time") for s in unassigned), 0)


def _built(stop_order: dict[str, int]) -> BuiltProblem:
    from delivery.problem import RoutingProblem, Stop, TimeWindow, Vehicle
    stops = tuple(Stop(sid, 1, kind="pickup" if sid.startswith("p") else "delivery",
                       pickup=("p" + sid[1:]) if sid.startswith("d") else None) for sid in stop_order)
    vans = tuple(Vehicle(v, 0, 0, TimeWindow(0, 86400), (10,)) for v in ("v1", "v2"))
    problem = RoutingProblem(vans, stops, ((0, 1), (1, 0)), ((0, 1), (1, 0)))
    return BuiltProblem(problem=problem, points=[(0, 0), (0, 0)], stop_order=dict(stop_order))


def test_one_unserved_leg_drops_the_whole_order() -> None:
    built = _built({"p1-1": 1, "d1-1": 1, "p1-2": 1, "d1-2": 1})
    assert partly_unassigned(built, _plan({"v1": ["p1-1", "d1-1"]}, ("p1-2", "d1-2"))) == {1: "fleet_time"}


def test_a_demo_day_delivers_every_order_in_one_van_and_one_stop(app, clock) -> None:
    with db.transaction(app) as session:
        seed_demo(session, now=clock.now())
    with db.transaction(app) as session:
        simulate_orders(session, delivery_date=date(2026, 12, 2), count=80, seed=3, now=clock.now())
    outcome = plan_day(app, delivery_date=date(2026, 12, 2), actor="staff:test", time_limit_s=6)
    with db.reading(app) as session:
        vans: dict[int, set[int]] = defaultdict(set)
        door_stops: dict[int, int] = defaultdict(int)
        resident_of = {order_id: resident for order_id, resident in session.execute(select(Order.id, Order.resident_id))}
        visits: dict[int, int] = defaultdict(int)    # resident → door stops
        for stop, run in session.execute(select(RunStop, Run).join(Run).where(RunStop.kind == "delivery")):
            for order_id in stop.order_ids:
                vans[order_id].add(run.vehicle_id)
                door_stops[order_id] += 1
            (resident,) = {resident_of[order_id] for order_id in stop.order_ids}   # a stop is one door
            visits[resident] += 1
        unassigned = {u.order_id for u in session.scalars(select(UnassignedOrder))}
        orders = set(session.scalars(select(Order.id).where(Order.delivery_date == date(2026, 12, 2))))
    assert vans and all(len(v) == 1 for v in vans.values()), {o: v for o, v in vans.items() if len(v) > 1}
    assert all(n == 1 for n in door_stops.values()), {o: n for o, n in door_stops.items() if n > 1}
    assert all(n == 1 for n in visits.values()), {r: n for r, n in visits.items() if n > 1}
    assert not set(vans) & unassigned
    assert set(vans) | unassigned == orders            # every order is accounted for
    # the demo fleet serves this day (measured 80/80 in docs/benchmarks.md); a loaded CI machine gets
    # a little less search, so one order may be left out, never more
    assert len(vans) >= len(orders) - 1, (len(vans), len(orders), outcome.message)


def test_an_order_still_split_is_not_delivered_in_pieces() -> None:
    built = _built({"p1-1": 1, "d1-1": 1, "p1-2": 1, "d1-2": 1})
    plan = _plan({"v1": ["p1-1", "d1-1"], "v2": ["p1-2", "d1-2"]})
    assert partly_unassigned(built, plan) == {1: "split"}


def test_a_bigger_day_gets_proportionally_more_solver_time() -> None:
    from delivery.runner import planning_seconds

    assert planning_seconds(10, 60) == planning_seconds(10, 120) == 10
    assert planning_seconds(10, 480) == 40


def test_two_orders_for_one_door_ride_one_van_and_are_handed_over_together(app, session) -> None:
    """Placed outside the channels (which now add to the first order), two orders for one resident's
    door still come on one van, one after the other at the door: one walk to the door, not two."""
    from datetime import datetime as dt

    from orders.service import LineItem, place_order
    from tests.factories import make_district, make_product, make_resident, make_shop, make_vehicle

    district = make_district(session)
    east, west = make_shop(session, lat=38.115, lon=140.060), make_shop(session, lat=38.100, lon=140.020)
    radish, tofu = make_product(session, east, stock=50), make_product(session, west, name="豆腐", stock=50)
    for _ in range(2):
        make_vehicle(session, shift_start="09:00", shift_end="17:00")
    door = make_resident(session, district, lat=38.108, lon=140.041)
    others = [make_resident(session, district, lat=38.104 + 0.003 * i, lon=140.030 + 0.006 * i) for i in range(4)]
    session.commit()
    when = dt(2026, 12, 1, 8, 0, tzinfo=JST)
    first = place_order(session, resident_id=door.id, items=[LineItem(radish.id, 1)], placed_by="test", channel="web", now=when)
    second = place_order(session, resident_id=door.id, items=[LineItem(tofu.id, 1)], placed_by="test", channel="web", now=when)
    for i, r in enumerate(others):
        place_order(session, resident_id=r.id, items=[LineItem((radish if i % 2 else tofu).id, 1)], placed_by="test",
                    channel="web", now=when)
    session.commit()
    # the model holds both orders' legs in one group (kept on one van, door legs together: see
    # tests/test_whole_groups.py), so this does not rest on the search happening to pair them
    from delivery.planning import prepare_day
    from delivery.runner import _distance_cache
    cache = _distance_cache(app)
    with db.reading(app) as reading:
        built = prepare_day(reading, delivery_date=date(2026, 12, 1), trigger="t", now=when,
                            matrix=lambda points: cache.matrix(date(2026, 12, 1), points)).built
    groups = {s.group for s in built.problem.stops if built.stop_order[s.id] in (first.id, second.id)}
    assert len(groups) == 1 and None not in groups
    plan_day(app, delivery_date=date(2026, 12, 1), actor="staff:test", time_limit_s=2)
    # ... and the saved run has one stop at that door, handing over both (issue #9)
    doors = [stop for run in session.scalars(select(Run)) for stop in run.stops
             if {first.id, second.id} & set(stop.order_ids)]
    assert len(doors) == 1 and sorted(doors[0].order_ids) == sorted([first.id, second.id])
