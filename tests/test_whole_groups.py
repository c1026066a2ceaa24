"""Every leg of a door rides one van, in the model and in the check after it (delivery.solver.whole),
and a solver's plan is replayed to its own times (breaks taken mid-drive), never thrown away."""

from __future__ import annotations

from delivery.problem import Break, RoutingProblem, Stop, TimeWindow, Vehicle
from delivery.routing import solve
from delivery.solver.schedule import schedule_route
from delivery.solver.whole import make_whole

ORTOOLS = ("ortools",)


def line(points: list[int]) -> tuple[tuple[int, ...], ...]:
    return tuple(tuple(abs(a - b) for b in points) for a in points)


def two_shop_day() -> RoutingProblem:
    """Van A sits at shop 1 (location 1), van B at shop 2 (location 5); one door (location 3) buys
    from both. Split, each van fetches its own shop's goods: 2+2 + 2+2 = 8. Whole, one van drives
    1→5→3→1 or the like: 4+2+2 = 8 plus its way out. Without the group the split plan is as cheap."""
    points = [1, 5, 3]
    m = line(points)
    vans = (Vehicle("A", 0, 0, TimeWindow(0, 10_000), (10,)), Vehicle("B", 1, 1, TimeWindow(0, 10_000), (10,)))
    stops = (
        Stop("p1", 0, "pickup", demand=(1,), group="door"), Stop("d1", 2, demand=(1,), pickup="p1", group="door"),
        Stop("p2", 1, "pickup", demand=(1,), group="door"), Stop("d2", 2, demand=(1,), pickup="p2", group="door"),
    )
    return RoutingProblem(vans, stops, m, m)


def vans_of(plan, ids: set[str]) -> set[str]:  # type: ignore[no-untyped-def]
    return {r.vehicle_id for r in plan.routes for v in r.visits if v.stop_id in ids}


def test_a_door_buying_from_two_shops_is_served_by_one_van() -> None:
    plan = solve(two_shop_day(), time_limit_s=1.0, engines=ORTOOLS)
    assert plan.unassigned == ()
    assert len(vans_of(plan, {"p1", "d1", "p2", "d2"})) == 1
    route = plan.routes[0]
    doors = [i for i, v in enumerate(route.visits) if v.stop_id in ("d1", "d2")]
    assert doors[1] - doors[0] == 1  # one stop at the door, not two visits


def test_the_model_itself_keeps_a_group_on_one_van() -> None:
    from delivery.solver.nodes import build_nodes
    from delivery.solver.ortools_engine import solve_ortools

    problem = two_shop_day()
    nodes = build_nodes(problem, problem.stops)
    result = solve_ortools(nodes, time_limit_s=1.0, solution_limit=None)
    assert result is not None
    assert sum(1 for route in result.routes if route) == 1
    assert sorted(len(route) for route in result.routes) == [0, 4]


def test_a_split_group_is_made_whole_on_the_van_carrying_most_of_it() -> None:
    problem = two_shop_day()
    by_id = {s.id: s for s in problem.stops}
    split = [[by_id["p1"], by_id["d1"]], [by_id["p2"], by_id["d2"]]]
    routes, unserved = make_whole(problem, split)
    assert unserved == set()
    used = [r for r in routes if r is not None and r.visits]
    assert len(used) == 1
    ids = [v.stop_id for v in used[0].visits]
    assert ids.index("d2") - ids.index("d1") in (1, -1)


def test_a_route_that_fails_the_check_loses_one_group_not_the_plan() -> None:
    problem = two_shop_day()
    late = Stop("late", 2, window=TimeWindow(0, 1))  # cannot be reached by t=1 from either depot
    problem = RoutingProblem(problem.vehicles, problem.stops + (late,), problem.travel_s, problem.cost)
    by_id = {s.id: s for s in problem.stops}
    routes, unserved = make_whole(problem, [[by_id[x] for x in ("p1", "p2", "d1", "d2", "late")], []])
    assert unserved == {"late"}
    assert [v.stop_id for v in routes[0].visits] == ["p1", "p2", "d1", "d2"]


def test_a_break_planned_mid_drive_adds_only_its_length_to_the_leg() -> None:
    # depot 0 → stop at 100: a 30-second break planned at t=40 (mid-drive) ends the leg at 130,
    # as in OR-Tools' model, not at 40 + 30 + 100
    m = line([0, 100])
    van = Vehicle("v", 0, 0, TimeWindow(0, 1000), (1,), breaks=(Break(TimeWindow(40, 60), 30),))
    problem = RoutingProblem((van,), (Stop("s", 1),), m, m)
    route = schedule_route(problem, van, list(problem.stops), [40])
    assert route.visits[0].arrival == 130
    assert route.breaks[0].start == 40


def test_plans_with_breaks_from_the_solver_always_pass_the_check() -> None:
    # tight windows on both sides of a lunch break: the solver's break times must replay as they are
    points = [0, 40, 80, 120, 160, 200]
    m = line(points)
    vans = tuple(Vehicle(f"v{k}", 0, 0, TimeWindow(0, 2000), (10,), breaks=(Break(TimeWindow(300, 500), 120),))
                 for k in range(2))
    stops = tuple(Stop(f"s{i}", i, window=TimeWindow(100 * i, 100 * i + 250), service_s=30) for i in range(1, 6))
    plan = solve(RoutingProblem(vans, stops, m, m), time_limit_s=1.0, engines=ORTOOLS)
    assert plan.unassigned == ()
    for route in plan.routes:
        assert route.breaks and all(300 <= b.start <= 500 for b in route.breaks)


def test_a_second_call_at_a_shop_in_one_trip_is_folded_into_the_first() -> None:
    # depot 0, shop at 10, doors at 20 and 30: p1 d1 p2 d2 drives back to the shop; one call serves both
    m = line([0, 10, 20, 30])
    van = Vehicle("v", 0, 0, TimeWindow(0, 10_000), (10,))
    stops = (Stop("p1", 1, "pickup", demand=(1,)), Stop("d1", 2, demand=(1,), pickup="p1"),
             Stop("p2", 1, "pickup", demand=(1,)), Stop("d2", 3, demand=(1,), pickup="p2"))
    problem = RoutingProblem((van,), stops, m, m)
    routes, unserved = make_whole(problem, [list(stops)])
    assert unserved == set()
    assert [v.stop_id for v in routes[0].visits] == ["p1", "p2", "d1", "d2"]


def test_a_second_call_stays_when_the_van_has_no_room_for_both() -> None:
    # room for one order at a time: the van must come back (a reload trip), and the check keeps it
    m = line([0, 10, 20, 30])
    van = Vehicle("v", 0, 0, TimeWindow(0, 10_000), (1,))
    stops = (Stop("p1", 1, "pickup", demand=(1,)), Stop("d1", 2, demand=(1,), pickup="p1"),
             Stop("p2", 1, "pickup", demand=(1,)), Stop("d2", 3, demand=(1,), pickup="p2"))
    problem = RoutingProblem((van,), stops, m, m)
    routes, unserved = make_whole(problem, [list(stops)])
    assert unserved == set()
    assert [v.stop_id for v in routes[0].visits] == ["p1", "d1", "p2", "d2"]


def test_a_first_call_is_pushed_down_into_the_second_when_the_van_is_full_in_between() -> None:
    # room for two: p1 at shop A (10), pX at shop B (20) for door X (25), back to A for p2, then d1, d2.
    # Pulling p2 up to the first call would carry three; pushing p1 down to the second call carries two.
    m = line([0, 10, 20, 25, 12, 14])
    van = Vehicle("v", 0, 0, TimeWindow(0, 10_000), (2,))
    stops = (Stop("p1", 1, "pickup", demand=(1,)), Stop("pX", 2, "pickup", demand=(1,)),
             Stop("dX", 3, demand=(1,), pickup="pX"), Stop("p2", 1, "pickup", demand=(1,)),
             Stop("d1", 4, demand=(1,), pickup="p1"), Stop("d2", 5, demand=(1,), pickup="p2"))
    problem = RoutingProblem((van,), stops, m, m)
    routes, unserved = make_whole(problem, [list(stops)])
    assert unserved == set()
    assert [v.stop_id for v in routes[0].visits] == ["pX", "dX", "p1", "p2", "d1", "d2"]
