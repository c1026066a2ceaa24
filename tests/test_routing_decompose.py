"""Big days: problems given as numpy matrices, split by cluster, and the joint plan warm-started from it."""

from __future__ import annotations

import numpy as np

from delivery.problem import RoutingProblem, Stop, TimeWindow, Vehicle
from benchmarks.decompose import solve_by_cluster, solve_joint_from_clusters, split


def two_valleys() -> RoutingProblem:
    # depot at 0; valley A at 1000..1005, valley B at -1000..-1005; a shop at 10 feeds one order in each
    points = [0, 10] + [1000 + i for i in range(6)] + [-1000 - i for i in range(6)]
    m = np.abs(np.subtract.outer(points, points)).astype(np.int32)
    stops = [Stop(f"a{i}", 2 + i, window=TimeWindow(0, 50_000), demand=(1,)) for i in range(5)]
    stops += [Stop(f"b{i}", 8 + i, window=TimeWindow(0, 50_000), demand=(1,)) for i in range(5)]
    stops += [Stop("pa", 1, "pickup", demand=(1,)), Stop("da", 7, demand=(1,), pickup="pa"),
              Stop("pb", 1, "pickup", demand=(1,)), Stop("db", 13, demand=(1,), pickup="pb")]
    vans = (Vehicle("va", 0, 0, TimeWindow(0, 60_000), (10,)), Vehicle("vb", 0, 0, TimeWindow(0, 60_000), (10,)))
    return RoutingProblem(vans, tuple(stops), m, m)


CLUSTER = {**{f"a{i}": "A" for i in range(5)}, **{f"b{i}": "B" for i in range(5)}, "da": "A", "db": "B"}
VANS = {"A": ["va"], "B": ["vb"]}


def test_split_keeps_pickups_with_their_deliveries_and_only_used_locations() -> None:
    parts = split(two_valleys(), CLUSTER, VANS)
    sub_a, used_a = parts["A"]
    assert {s.id for s in sub_a.stops} == {"a0", "a1", "a2", "a3", "a4", "pa", "da"}
    assert [v.id for v in sub_a.vehicles] == ["va"]
    assert used_a == [0, 1, 2, 3, 4, 5, 6, 7]
    assert len(sub_a.travel_s) == 8


def test_cluster_plans_merge_back_into_the_problem_locations() -> None:
    p = two_valleys()
    plan = solve_by_cluster(p, CLUSTER, VANS, time_limit_s=3, workers=1)
    assert plan.unassigned == ()
    route_a = next(r for r in plan.routes if r.vehicle_id == "va")
    assert {v.location for v in route_a.visits} == {1, 2, 3, 4, 5, 6, 7}
    assert all(isinstance(v.arrival, int) for r in plan.routes for v in r.visits)
    # each van: via the shop (at 10) out to the far end of its valley and back
    assert plan.distance == (10 + 995 + 1005) + (10 + 1015 + 1005)


def test_joint_plan_from_clusters_is_never_worse_than_the_clusters() -> None:
    p = two_valleys()
    clusters = solve_by_cluster(p, CLUSTER, VANS, time_limit_s=3, workers=1)
    joint = solve_joint_from_clusters(p, CLUSTER, VANS, time_limit_s=4, engines=("ortools",))
    assert joint.unassigned == () and joint.objective <= clusters.objective



def test_groups_pool_the_vans_of_their_clusters() -> None:
    # valley A has seven orders, valley B one; each van holds five. Planned by valley, van "va" must
    # leave two of A's orders; once both valleys form one group, "vb" takes them.
    points = [0] + [1000 + i for i in range(7)] + [-1000]
    m = np.abs(np.subtract.outer(points, points)).astype(np.int32)
    stops = tuple(Stop(f"a{i}", 1 + i, window=TimeWindow(0, 50_000), demand=(1,)) for i in range(7)) + (
        Stop("b0", 8, window=TimeWindow(0, 50_000), demand=(1,)),)
    vans = (Vehicle("va", 0, 0, TimeWindow(0, 60_000), (5,)), Vehicle("vb", 0, 0, TimeWindow(0, 60_000), (5,)))
    problem = RoutingProblem(vans, stops, m, m)
    cluster_of = {**{f"a{i}": "A" for i in range(7)}, "b0": "B"}
    clusters = solve_by_cluster(problem, cluster_of, VANS, time_limit_s=2, workers=1)
    assert len(clusters.unassigned) == 2
    grouped = solve_joint_from_clusters(problem, cluster_of, VANS, time_limit_s=5, engines=("ortools",),
                                        group_of={"A": "town", "B": "town"})
    assert grouped.unassigned == ()
    assert sorted(v.stop_id for r in grouped.routes for v in r.visits) == sorted(s.id for s in stops)
    assert grouped.objective < clusters.objective
    assert grouped.stats.candidates[0] == ("clusters", clusters.objective)
