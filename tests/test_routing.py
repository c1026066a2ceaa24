"""The optimiser on tiny problems whose answer is known by hand (OR-Tools member alone, for speed;
the portfolio has its own tests in test_routing_portfolio.py)."""

from __future__ import annotations

import pytest

from delivery.problem import Break, RoutePlan, RoutingProblem, Stop, TimeWindow, Vehicle
from delivery.routing import solve

ORTOOLS = ("ortools",)


def line(points: list[int]) -> tuple[tuple[int, ...], ...]:
    """A matrix for locations on a straight road: travel time = cost = the gap between them."""
    return tuple(tuple(abs(a - b) for b in points) for a in points)


def problem(points: list[int], vehicles: list[Vehicle], stops: list[Stop], **kw: object) -> RoutingProblem:
    m = line(points)
    return RoutingProblem(tuple(vehicles), tuple(stops), m, m, **kw)  # type: ignore[arg-type]


def van(vid: str = "v1", cap: tuple[int, ...] = (10,), start: int = 0, end: int = 0, **kw: object) -> Vehicle:
    return Vehicle(vid, start, end, TimeWindow(0, 10_000), cap, **kw)  # type: ignore[arg-type]


def order(plan: RoutePlan, vehicle: str | None = None) -> list[str]:
    routes = [r for r in plan.routes if vehicle is None or r.vehicle_id == vehicle]
    return [v.stop_id for r in routes for v in r.visits]


def test_four_stops_on_a_road_optimum_and_window_order() -> None:
    # depot at 0, stops at 100..400; D must be served by 450 and A not before 700: out to D first
    windows = {"A": TimeWindow(700, 10_000), "D": TimeWindow(0, 450)}
    stops = [Stop(n, i + 1, window=windows.get(n)) for i, n in enumerate("ABCD")]
    plan = solve(problem([0, 100, 200, 300, 400], [van()], stops), time_limit_s=0.5, engines=ORTOOLS)
    assert plan.unassigned == ()
    assert plan.distance == 800  # out to 400 and back: nothing shorter serves all four
    assert order(plan) == ["D", "C", "B", "A"]
    d = plan.routes[0].visits[0]
    assert (d.arrival, d.start) == (400, 400)
    assert plan.objective == 800


def test_pickup_before_delivery_even_when_the_reverse_is_shorter() -> None:
    # depot 0, resident at 1, shop at 2, the van ends at 3: 0→1→2→3 (3) would deliver before picking up
    stops = [Stop("p", 2, "pickup", demand=(1,)), Stop("d", 1, demand=(1,), pickup="p")]
    plan = solve(problem([0, 1, 2, 3], [van(end=3)], stops), time_limit_s=0.5, engines=ORTOOLS)
    assert order(plan) == ["p", "d"]
    assert plan.distance == 2 + 1 + 2
    assert [v.load for v in plan.routes[0].visits] == [(1,), (0,)]


def test_capacity_one_crate_forces_pickup_delivery_alternation() -> None:
    # two shop orders, room for one crate: p1 d1 p2 d2 (or the mirror), never both pickups first
    stops = [
        Stop("p1", 1, "pickup", demand=(1,)), Stop("d1", 2, demand=(1,), pickup="p1"),
        Stop("p2", 1, "pickup", demand=(1,)), Stop("d2", 2, demand=(1,), pickup="p2"),
    ]
    plan = solve(problem([0, 10, 20], [van(cap=(1,))], stops), time_limit_s=0.5, engines=ORTOOLS)
    assert plan.unassigned == ()
    loads = [v.load[0] for v in plan.routes[0].visits]
    assert max(loads) == 1
    seq = order(plan)
    assert seq.index("p1") < seq.index("d1") and seq.index("p2") < seq.index("d2")


def test_depot_goods_and_shop_pairs_share_one_load_correctly() -> None:
    # 2 crates from the depot + a 1-crate shop order on a 2-crate van
    stops = [
        Stop("a", 1, demand=(1,)), Stop("b", 1, demand=(1,)),
        Stop("p", 2, "pickup", demand=(1,)), Stop("d", 3, demand=(1,), pickup="p"),
    ]
    plan = solve(problem([0, 10, 20, 30], [van(cap=(2,))], stops), time_limit_s=0.5, engines=ORTOOLS)
    assert plan.unassigned == ()
    r = plan.routes[0]
    assert r.load_at_start == (2,)
    assert all(0 <= v.load[0] <= 2 for v in r.visits)
    seq = order(plan)
    # a full van (2 depot crates) has no room at the shop: some depot goods must be delivered first
    assert seq.index("p") > min(seq.index("a"), seq.index("b"))


def test_several_capacity_dimensions_cold_goods_go_on_the_van_with_a_cold_box() -> None:
    dims = ("crates", "cold")
    stops = [Stop("frozen", 1, demand=(1, 1)), Stop("dry", 2, demand=(1, 0))]
    vans = [van("dry-van", cap=(5, 0)), van("cold-van", cap=(5, 1), fixed_cost=1)]
    plan = solve(problem([0, 10, 20], vans, stops, dimensions=dims), time_limit_s=0.5, engines=ORTOOLS)
    assert plan.unassigned == ()
    assert "frozen" in order(plan, "cold-van")
    # the cold van can carry both and one van is cheaper than two (its fixed cost is 1)
    assert order(plan, "cold-van") == ["frozen", "dry"] and len(plan.routes) == 1


def test_fixed_cost_per_vehicle_counts_once() -> None:
    stops = [Stop("a", 1), Stop("b", 2)]
    vans = [van("v1", fixed_cost=1000), van("v2", fixed_cost=1000)]
    plan = solve(problem([0, 10, -10], vans, stops), time_limit_s=0.5, engines=ORTOOLS)
    assert len(plan.routes) == 1
    assert plan.objective == 40 + 1000


def test_a_break_is_taken_inside_its_window_and_never_during_a_service() -> None:
    # three 100 s services; a 500 s break that must start between 150 and 250
    stops = [Stop(n, i + 1, service_s=100) for i, n in enumerate("abc")]
    v = van(breaks=(Break(TimeWindow(150, 250), 500),))
    plan = solve(problem([0, 10, 20, 30], [v], stops), time_limit_s=0.5, engines=ORTOOLS)
    assert plan.unassigned == ()
    r = plan.routes[0]
    assert len(r.breaks) == 1
    b = r.breaks[0]
    assert 150 <= b.start <= 250 and b.duration_s == 500
    for visit in r.visits:
        assert visit.departure <= b.start or visit.start >= b.start + 500
    assert r.end_time >= 300 + 60 + 500  # services + driving + the break


def test_unservable_stops_come_back_with_the_binding_reason() -> None:
    points = [0, 10, 5000, 20, 30]
    stops = [
        Stop("ok", 1),
        Stop("too-far-for-window", 2, window=TimeWindow(0, 100)),  # 5000 s away, window closes at 100
        Stop("too-heavy", 3, demand=(50,)),  # no van carries 50
        Stop("late", 4, window=TimeWindow(9_990, 10_000), service_s=20),  # reachable, but no way home in time
    ]
    plan = solve(problem(points, [van()], stops), time_limit_s=0.5, engines=ORTOOLS)
    reasons = {u.stop_id: u.reason for u in plan.unassigned}
    assert reasons == {"too-far-for-window": "window_unreachable", "too-heavy": "capacity", "late": "shift_too_short"}
    assert order(plan) == ["ok"]


def test_fleet_out_of_room_drops_a_stop_with_reason_not_silently() -> None:
    stops = [Stop(n, 1, demand=(1,)) for n in "abc"]
    plan = solve(problem([0, 10], [van(cap=(2,))], stops), time_limit_s=0.5, engines=ORTOOLS)
    assert len(order(plan)) == 2
    assert [u.reason for u in plan.unassigned] == ["fleet_capacity"]
    served = set(order(plan)) | {u.stop_id for u in plan.unassigned}
    assert served == {"a", "b", "c"}


def test_optional_stop_is_dropped_when_its_penalty_is_below_its_cost() -> None:
    stops = [Stop("near", 1), Stop("far-optional", 2, penalty=50)]
    plan = solve(problem([0, 10, 1000], [van()], stops), time_limit_s=0.5, engines=ORTOOLS)
    assert order(plan) == ["near"]
    assert plan.unassigned[0].stop_id == "far-optional" and plan.objective == 20 + 50


def test_pickups_at_one_shop_collapse_into_one_visit() -> None:
    # three residents ordered from the same shop (location 1, 300 s to park and walk in)
    stops = []
    for k, home in enumerate((2, 3, 4)):
        stops += [Stop(f"p{k}", 1, "pickup", service_s=60, demand=(1,)), Stop(f"d{k}", home, demand=(1,), pickup=f"p{k}")]
    setup = (0, 300, 0, 0, 0)
    plan = solve(problem([0, 100, 200, 300, 400], [van()], stops, setup_s=setup), time_limit_s=0.5, engines=ORTOOLS)
    visits = plan.routes[0].visits
    assert [v.stop_id[0] for v in visits] == ["p", "p", "p", "d", "d", "d"]
    first, second, third = visits[:3]
    assert first.start == first.arrival + 300  # parking paid once...
    assert second.start == first.departure and third.start == second.departure  # ...not per order


def test_same_input_and_seed_give_the_same_plan() -> None:
    import random

    rnd = random.Random(7)
    points = [0] + [rnd.randrange(-5000, 5000) for _ in range(30)]
    stops = [Stop(f"s{i}", i, window=TimeWindow(0, rnd.randrange(6000, 20000)), service_s=60, demand=(rnd.randint(1, 3),)) for i in range(1, 31)]
    vans = [Vehicle(f"v{k}", 0, 0, TimeWindow(0, 30_000), (20,)) for k in range(4)]
    p = problem(points, vans, stops)
    a = solve(p, time_limit_s=20, solution_limit=30, seed=3, engines=ORTOOLS)
    b = solve(p, time_limit_s=20, solution_limit=30, seed=3, engines=ORTOOLS)
    assert a.routes == b.routes and a.objective == b.objective


def test_warm_start_keeps_the_given_plan_and_only_improves() -> None:
    stops = [Stop(f"s{i}", i, window=TimeWindow(0, 3000)) for i in range(1, 6)]
    p = problem([0, 300, -200, 500, -700, 100], [van("v1"), van("v2")], stops)
    first = solve(p, time_limit_s=1, solution_limit=1, engines=ORTOOLS)
    assert first.unassigned == ()
    again = solve(p, time_limit_s=1, initial_plan=first, solution_limit=5, engines=ORTOOLS)
    assert again.stats.strategy == "warm_start"
    assert again.unassigned == () and again.objective <= first.objective
    # re-planning with one stop done (left out) and one new stop: the rest stays served
    done = RoutingProblem(p.vehicles, tuple(s for s in stops if s.id != "s1") + (Stop("new", 5),), p.travel_s, p.cost)
    replanned = solve(done, time_limit_s=1, initial_plan=first, engines=ORTOOLS)
    assert replanned.unassigned == ()
    assert set(order(replanned)) == {"s2", "s3", "s4", "s5", "new"}


@pytest.mark.parametrize(
    "bad",
    [
        dict(stops=(Stop("x", 9),)),
        dict(stops=(Stop("d", 1, pickup="nope"),)),
        dict(stops=(Stop("x", 1), Stop("x", 1))),
        dict(stops=(Stop("p", 1, "pickup", demand=(2,)), Stop("d", 1, demand=(1,), pickup="p"))),
    ],
)
def test_malformed_problems_are_rejected_up_front(bad: dict) -> None:
    m = line([0, 10])
    with pytest.raises(ValueError):
        RoutingProblem((van(),), bad["stops"], m, m)


def test_pair_that_cannot_be_chained_and_unknown_vehicle_restrictions_are_explained() -> None:
    # the shop closes (window ends) before the van could get there and still reach the resident
    stops = [
        Stop("p", 2, "pickup", window=TimeWindow(0, 5000)),
        Stop("d", 1, window=TimeWindow(0, 150), pickup="p"),  # resident next door, but only until 150
        Stop("only-v2", 1),
    ]
    vans = [van("v1"), Vehicle("v2", 0, 0, TimeWindow(20_000, 20_001), (10,))]
    restricted = tuple(s if s.id != "only-v2" else Stop("only-v2", 1, vehicles=("v2",)) for s in stops)
    plan = solve(problem([0, 100, 1000], vans, list(restricted)), time_limit_s=0.5, engines=ORTOOLS)
    reasons = {u.stop_id: u.reason for u in plan.unassigned}
    assert reasons["p"] == reasons["d"] == "pair_infeasible"
    assert reasons["only-v2"] in ("window_unreachable", "shift_too_short")  # v2's one-second shift


def test_a_stop_pinned_to_a_vehicle_rides_on_that_vehicle() -> None:
    # v1 starts next to the stop, v2 far away; the stop may only go on v2 (e.g. goods already on board)
    stops = [Stop("pinned", 1, vehicles=("v2",)), Stop("free", 1)]
    vans = [van("v1", start=1, end=1), van("v2", start=2, end=2)]
    plan = solve(problem([0, 10, 500], vans, stops), time_limit_s=0.5, engines=ORTOOLS)
    assert plan.unassigned == ()
    assert "pinned" in order(plan, "v2")
    assert "pinned" not in order(plan, "v1")
