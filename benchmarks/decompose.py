"""Large days: split one problem into independent clusters (e.g. districts), solve them side by side.

A city ten times the pilot town does not fit one OR-Tools model in two minutes, and most of its
structure is local anyway: a van serving the north-east never helps the south-west. The caller says
which cluster each delivery belongs to and which vehicles serve it; a shop pickup follows its delivery.
Every cluster is solved by the same ``solve`` in a pool of worker processes (one per core), with a time
share proportional to its size, and the plans are merged.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from delivery.problem import Route, RoutePlan, RoutingProblem, SolverStats, Stop, Vehicle, Visit
from delivery.routing import solve, stop_penalties


def split(
    problem: RoutingProblem, cluster_of: Mapping[str, str], vehicles_of: Mapping[str, Sequence[str]]
) -> dict[str, tuple[RoutingProblem, list[int]]]:
    """One sub-problem per cluster over only the locations it uses (small matrices, small models),
    with the list mapping its location indices back to the problem's."""
    vehicles = {v.id: v for v in problem.vehicles}
    delivery_of = {s.pickup: s.id for s in problem.stops if s.pickup is not None}
    groups: dict[str, list[Stop]] = {c: [] for c in vehicles_of}
    for s in problem.stops:
        groups[cluster_of[delivery_of[s.id] if s.kind == "pickup" else s.id]].append(s)
    travel = np.asarray(problem.travel_s)  # no copy when the caller already has arrays
    cost = np.asarray(problem.cost)
    out = {}
    for c, stops in groups.items():
        vs = [vehicles[v] for v in vehicles_of[c]]
        used = sorted({s.location for s in stops} | {v.start_location for v in vs} | {v.end_location for v in vs})
        local = {loc: i for i, loc in enumerate(used)}
        idx = np.array(used)
        sub_stops = tuple(Stop(s.id, local[s.location], s.kind, s.window, s.service_s, s.demand, s.pickup, s.penalty, s.vehicles) for s in stops)
        sub_vehicles = tuple(Vehicle(v.id, local[v.start_location], local[v.end_location], v.shift, v.capacity, v.fixed_cost, v.breaks) for v in vs)
        setup = tuple(problem.setup(loc) for loc in used) if problem.setup_s else ()
        sub = RoutingProblem(
            sub_vehicles, sub_stops,
            tuple(map(tuple, travel[np.ix_(idx, idx)].tolist())),
            tuple(map(tuple, cost[np.ix_(idx, idx)].tolist())),
            setup, problem.dimensions,
        )
        out[c] = (sub, used)
    return out


def _solve_one(args: tuple[RoutingProblem, float, int, tuple[str, ...], RoutePlan | None]) -> RoutePlan:
    problem, limit, seed, engines, initial = args
    return solve(problem, time_limit_s=limit, seed=seed, engines=engines, initial_plan=initial)


def solve_by_cluster(
    problem: RoutingProblem,
    cluster_of: Mapping[str, str],
    vehicles_of: Mapping[str, Sequence[str]],
    *,
    time_limit_s: float,
    seed: int = 0,
    engines: Sequence[str] = ("ortools",),
    workers: int | None = None,
    initial_plan: RoutePlan | None = None,
) -> RoutePlan:
    """Solve each cluster independently (``cluster_of``: delivery id -> cluster; ``vehicles_of``:
    cluster -> its vehicle ids) and merge. Wall time stays within ``time_limit_s`` plus start-up.
    ``initial_plan`` (any plan over the same stop and vehicle ids) warm-starts every cluster."""
    began = time.monotonic()
    plans = _solve_parts(problem, cluster_of, vehicles_of, time_limit_s=time_limit_s, seed=seed,
                         engines=engines, workers=workers, initial_plan=initial_plan)
    workers = workers or max(1, min(len(plans), os.cpu_count() or 1))
    return _merge(problem, list(plans.values()), f"by cluster ({len(plans)} clusters, {workers} workers)", began)


def _solve_parts(
    problem: RoutingProblem,
    cluster_of: Mapping[str, str],
    vehicles_of: Mapping[str, Sequence[str]],
    *,
    time_limit_s: float,
    seed: int,
    engines: Sequence[str],
    workers: int | None,
    initial_plan: RoutePlan | None,
) -> dict[str, RoutePlan]:
    """Each cluster's plan, in the problem's own location indices."""
    began = time.monotonic()
    parts = split(problem, cluster_of, vehicles_of)
    workers = workers or max(1, min(len(parts), os.cpu_count() or 1))
    # time shares: clusters run `workers` at a time, each gets a slice proportional to its size
    # each solve also pays for starting its second search process when the portfolio is on
    # (measured: 50 district solves with PyVRP overran a 110 s budget by 20 s on a loaded machine)
    per_solve = 0.8 if len(engines) > 1 else 0.2
    budget = max(1.0, time_limit_s - (time.monotonic() - began) - 2.0) * workers - per_solve * len(parts)
    budget = max(budget, 0.5 * len(parts))
    total = sum(len(p.stops) for p, _ in parts.values()) or 1
    # solve() reads only stop and vehicle ids from a warm start, so the whole plan serves every cluster
    jobs = [(p, max(0.5, budget * len(p.stops) / total), seed, tuple(engines), initial_plan) for p, _ in parts.values()]
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        plans = list(pool.map(_solve_one, jobs))
    return {c: _to_problem_locations(plan, used) for (c, (_, used)), plan in zip(parts.items(), plans)}


def _to_problem_locations(plan: RoutePlan, used: Sequence[int]) -> RoutePlan:
    routes = tuple(
        Route(r.vehicle_id, tuple(Visit(v.stop_id, used[v.location], v.arrival, v.start, v.departure, v.load) for v in r.visits),
              r.start_time, r.end_time, r.distance, r.travel_s, r.load_at_start, r.breaks)
        for r in plan.routes
    )
    return RoutePlan(routes, plan.unassigned, plan.objective, plan.stats)


def _merge(problem: RoutingProblem, plans: Sequence[RoutePlan], strategy: str, began: float) -> RoutePlan:
    routes = tuple(r for plan in plans for r in plan.routes)
    unassigned = tuple(u for plan in plans for u in plan.unassigned)
    stats = SolverStats("ortools", strategy, round(time.monotonic() - began, 3), "success")
    return RoutePlan(routes, unassigned, _objective(problem, plans), stats)


def _objective(problem: RoutingProblem, plans: Sequence[RoutePlan]) -> int:
    """The objective of plans for parts of ``problem``, as ``solve`` would score them on the whole
    problem: each part's own objective uses a penalty scaled to that part, so parts cannot be summed."""
    fixed = {v.id: v.fixed_cost for v in problem.vehicles}
    penalties = stop_penalties(problem)
    return sum(r.distance + fixed[r.vehicle_id] for plan in plans for r in plan.routes) + sum(
        penalties[u.stop_id] for plan in plans for u in plan.unassigned)


def solve_joint_from_clusters(
    problem: RoutingProblem,
    cluster_of: Mapping[str, str],
    vehicles_of: Mapping[str, Sequence[str]],
    *,
    time_limit_s: float,
    cluster_share: float = 0.4,
    seed: int = 0,
    engines: Sequence[str] | None = None,
    group_of: Mapping[str, str] | None = None,
) -> RoutePlan:
    """One joint plan for a town-sized day: plan each cluster on its own first (small models converge
    fast), then improve over the whole town from that plan, where any van may take any stop.

    The joint search starts from the cluster plan, so it can only match or beat it; measured on the
    600-order town, a joint search from scratch in the same time did worse than the clusters.

    ``group_of`` (cluster -> group) is for days too big for one joint model (a city of several towns):
    the second stage then improves each group of clusters (a town: its districts and their vans) on
    its own, groups side by side in worker processes. Each group keeps the better of its two plans.
    """
    from delivery.routing import DEFAULT_ENGINES

    began = time.monotonic()
    engines = tuple(engines or DEFAULT_ENGINES)
    first = _solve_parts(problem, cluster_of, vehicles_of, time_limit_s=time_limit_s * cluster_share, seed=seed,
                         engines=("ortools",), workers=None, initial_plan=None)
    start = _merge(problem, list(first.values()), "clusters", began)
    left = max(1.0, time_limit_s - (time.monotonic() - began))
    if group_of is None:
        plan = solve(problem, time_limit_s=left, seed=seed, initial_plan=start, engines=engines)
        best = plan if plan.objective <= start.objective else start
        s = best.stats
        stats = SolverStats(s.engine, f"clusters then joint: {s.strategy}", round(time.monotonic() - began, 3), s.status,
                            (("clusters", start.objective),) + plan.stats.candidates)
        return RoutePlan(best.routes, best.unassigned, best.objective, stats)

    group_of_stop = {stop: group_of[c] for stop, c in cluster_of.items()}
    group_vehicles: dict[str, list[str]] = {}
    for c, vehicle_ids in vehicles_of.items():
        group_vehicles.setdefault(group_of[c], []).extend(vehicle_ids)
    second = _solve_parts(problem, group_of_stop, group_vehicles, time_limit_s=left, seed=seed, engines=engines,
                          workers=None, initial_plan=start)
    chosen: list[RoutePlan] = []
    improved = 0
    for g, plan in second.items():
        before = [first[c] for c in vehicles_of if group_of[c] == g]
        after, was = _objective(problem, [plan]), _objective(problem, before)
        if after <= was:
            chosen.append(plan)
            improved += after < was
        else:  # a group search that came back worse (or late, with nothing): keep its clusters' plans
            chosen.extend(before)
    merged = _merge(problem, chosen, f"clusters then {len(second)} groups ({improved} improved)", began)
    return RoutePlan(merged.routes, merged.unassigned, merged.objective,
                     SolverStats(merged.stats.engine, merged.stats.strategy, merged.stats.seconds, merged.stats.status,
                                 (("clusters", start.objective), ("groups", merged.objective))))
