"""The route optimiser: a pure function from a ``RoutingProblem`` to a ``RoutePlan``.

No Flask, no database: planning builds the problem, calls ``solve`` and stores what comes back; the
benchmark (``python -m benchmarks.vrp``) calls the very same function.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from delivery.problem import (
    Route,
    RoutePlan,
    RoutingProblem,
    SolverStats,
    Stop,
    Unassigned,
    UnassignedReason,
)
from delivery.solver.nodes import Nodes, big_penalty, build_nodes, triage
from delivery.solver.ortools_engine import EngineResult
from delivery.solver.parallel import start_member
from delivery.solver.rounds import search
from delivery.solver.whole import make_whole

# The second process runs PyVRP where it models the problem exactly, otherwise OR-Tools again from a
# different first solution (cheapest arc: best of the four strategies measured on the wide-window R2/RC2
# instances, where the insertion heuristics are weakest).
DEFAULT_ENGINES = ("ortools", "pyvrp", "ortools-alt")
ALT_STRATEGY = "PATH_CHEAPEST_ARC"
# On the product's day (groups, pickups in shop hours) cheapest arc leaves most orders out; local
# cheapest insertion is the other start that serves the day (docs/benchmarks.md, "The pilot's day").
ALT_GROUPED_STRATEGY = "LOCAL_CHEAPEST_INSERTION"
FINISH_S = 0.3
GROUPED_FINISH_S = 1.0  # making a town day's groups whole, one call per shop (measured 0.3-0.8 s)


# The status of the empty plan ``solve`` returns when no engine found any solution in its time (a
# starved machine): the caller must not take it for a day where nothing fits.
NO_ANSWER = "no engine answered"

def solve(
    problem: RoutingProblem,
    *,
    time_limit_s: float = 5.0,
    solution_limit: int | None = None,
    seed: int = 0,
    initial_plan: RoutePlan | None = None,
    engines: Sequence[str] = DEFAULT_ENGINES,
) -> RoutePlan:
    """Plan routes for ``problem`` within ``time_limit_s`` seconds of wall time.

    Always returns a plan: stops that cannot (or should not, given their penalty) be served come back
    in ``unassigned`` with the binding reason, never silently. ``solution_limit`` stops the search after
    that many improving solutions; with it (and not the clock) as the binding limit the result is
    identical for identical input and ``seed``. ``initial_plan`` warm-starts re-planning from the
    current routes (stops no longer in the problem are ignored, new ones are inserted by the search).
    ``engines`` is the measured portfolio: OR-Tools always runs here; a second process runs PyVRP on
    the problems it models exactly (no breaks, no per-stop vehicle restrictions), else OR-Tools from
    another first solution ("ortools-alt"); the cheaper verified plan wins. ``("ortools",)`` keeps it
    to one process. Must not be called with a database session open for long: it blocks for
    up to ``time_limit_s``.
    """
    began = time.monotonic()
    hopeless = triage(problem)
    kept = tuple(s for s in problem.stops if s.id not in hopeless)
    if not kept or not problem.vehicles:
        plan = _plan(problem, [], hopeless, "none", "empty", "nothing to route")
        return _with_seconds(plan, began, ())
    nodes = build_nodes(problem, kept)
    initial = _initial_routes(nodes, initial_plan)

    grouped = any(s.group is not None for s in kept)
    # kept back from the search for checking the plans and making their groups whole afterwards
    reserve = FINISH_S + (min(GROUPED_FINISH_S, 0.1 * time_limit_s) if grouped else 0.0)
    second = None
    if "pyvrp" in engines and _pyvrp_fits(problem):
        second = "pyvrp"
    elif "ortools-alt" in engines:
        second = f"ortools:{ALT_GROUPED_STRATEGY if grouped else ALT_STRATEGY}"
    pending = None
    if second is not None:

        # the second process keeps back the same time for its own groups (parallel.MARGIN_S covers the rest)
        pending = start_member(second, problem, kept, time_limit_s=time_limit_s - reserve + FINISH_S,
                               solution_limit=solution_limit, seed=seed, initial=initial)

    candidates: list[RoutePlan] = []
    left = time_limit_s - (time.monotonic() - began) - reserve
    result = search(nodes, time_limit_s=left, solution_limit=solution_limit, initial_routes=initial,
                    hopeless=tuple(hopeless))
    finish_by = began + time_limit_s
    if result is not None:
        candidates.append(_from_result(nodes, result, hopeless, "ortools", finish_by))
    if pending is not None:
        other = pending.result()
        if other is not None:
            candidates.append(_from_result(nodes, other, hopeless, "pyvrp" if second == "pyvrp" else "ortools", finish_by))
    if not candidates:  # cannot happen with every stop droppable, but never return nothing
        candidates.append(_plan(problem, [], hopeless, "none", "fail", NO_ANSWER))
    best = min(candidates, key=lambda p: p.objective)  # ties: the first member (OR-Tools) wins
    summary = tuple((f"{p.stats.engine}/{p.stats.strategy}", p.objective) for p in candidates)
    return _with_seconds(best, began, summary)


def _with_seconds(plan: RoutePlan, began: float, candidates: tuple[tuple[str, int], ...]) -> RoutePlan:
    s = plan.stats
    stats = SolverStats(s.engine, s.strategy, round(time.monotonic() - began, 3), s.status, candidates)
    return RoutePlan(plan.routes, plan.unassigned, plan.objective, stats)


def _pyvrp_fits(problem: RoutingProblem) -> bool:
    # PyVRP has no breaks, per-stop vehicle lists or same-vehicle groups: on such a day it would plan
    # another problem than the product's, so it is left out and OR-Tools runs in both processes.
    return (not any(v.breaks for v in problem.vehicles)
            and all(s.vehicles is None and s.group is None for s in problem.stops))


def _initial_routes(nodes: Nodes, plan: RoutePlan | None) -> list[list[int]] | None:
    if plan is None:
        return None
    by_vehicle = {r.vehicle_id: r for r in plan.routes}
    out = []
    for v in nodes.problem.vehicles:
        r = by_vehicle.get(v.id)
        # a stop now pinned to another van (moved by hand since) is left for the search to insert
        out.append([nodes.index_of[x.stop_id] for x in r.visits if x.stop_id in nodes.index_of
                    and _may_ride(nodes.stops[nodes.index_of[x.stop_id]], v.id)] if r else [])
    # a pickup whose delivery is no longer planned (or the reverse) would make the routes unreadable
    for route in out:
        present = set(route)
        route[:] = [n for n in route if _pair_complete(nodes, n, present)]
    return out


def _may_ride(stop: Stop, vehicle_id: str) -> bool:
    return stop.vehicles is None or vehicle_id in stop.vehicles


def _pair_complete(nodes: Nodes, node: int, present: set[int]) -> bool:
    s = nodes.stops[node]
    if s.pickup is not None:
        return nodes.index_of[s.pickup] in present
    if s.kind == "pickup":
        return any(nodes.stops[m].pickup == s.id for m in present)
    return True


def _from_result(nodes: Nodes, result: EngineResult, hopeless: dict[str, UnassignedReason], engine: str,
                 deadline: float | None = None) -> RoutePlan:
    """The engine's routes, checked and with every group whole (``delivery.solver.whole``): a route
    that fails the check is repaired, never discarded with the whole plan."""
    stops = [[nodes.stops[n] for n in route] for route in result.routes]
    routes, _ = make_whole(nodes.problem, stops, result.break_starts, deadline=deadline, hopeless=tuple(hopeless))
    return _plan(nodes.problem, [r for r in routes if r is not None], hopeless, engine, result.strategy, result.status)


def _plan(
    problem: RoutingProblem,
    built: list[Route],
    hopeless: dict[str, UnassignedReason],
    engine: str,
    strategy: str,
    status: str,
) -> RoutePlan:
    served = {v.stop_id for r in built for v in r.visits}
    by_vehicle = {v.id: v for v in problem.vehicles}
    dropped = [s for s in problem.stops if s.id not in served and s.id not in hopeless]
    unassigned = [Unassigned(sid, reason) for sid, reason in hopeless.items()]
    unassigned += [Unassigned(s.id, _drop_reason(problem, s, served)) for s in dropped]
    penalties = stop_penalties(problem)
    objective = sum(r.distance for r in built) + sum(by_vehicle[r.vehicle_id].fixed_cost for r in built)
    objective += sum(penalties[u.stop_id] for u in unassigned)
    order = {s.id: i for i, s in enumerate(problem.stops)}
    unassigned.sort(key=lambda u: order[u.stop_id])
    return RoutePlan(tuple(built), tuple(unassigned), objective, SolverStats(engine, strategy, 0.0, status))


def stop_penalties(problem: RoutingProblem) -> dict[str, int]:

    big = big_penalty(problem)
    return {s.id: big if s.penalty is None else s.penalty for s in problem.stops}


def _drop_reason(problem: RoutingProblem, stop: Stop, served: set[str]) -> UnassignedReason:
    """Why the search left out a stop that a vehicle could serve alone: room or hours ran out.

    Goods from the depot are all on board at the start, so they compete for the fleet's capacity;
    a shop order only occupies room between its pickup and its delivery, so it is judged on time.
    """
    if stop.kind == "delivery" and stop.pickup is None:
        by_id = {s.id: s for s in problem.stops}
        demand = problem.demand(stop)
        for d in range(len(problem.dimensions)):
            total = sum(v.capacity[d] for v in problem.vehicles)
            on_board = sum(problem.demand(by_id[x])[d] for x in served if by_id[x].kind == "delivery" and by_id[x].pickup is None)
            if demand[d] and on_board + demand[d] > total:
                return "fleet_capacity"
    return "fleet_time"
