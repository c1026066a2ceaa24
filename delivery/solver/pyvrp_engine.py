"""PyVRP, the second member of the measured portfolio (see docs/benchmarks.md, "Route optimiser").

It models exactly our problems without breaks or per-stop vehicle restrictions: multi-depot vehicles
with shifts, several capacity dimensions, fixed costs, depot deliveries (clients), shop-to-resident
pairs (shipments) and optional stops (prizes). It runs in the second process (``delivery.solver.parallel``)
while OR-Tools runs in the caller's; ``solve`` keeps whichever verified plan is cheaper.
"""

from __future__ import annotations

import time

import numpy as np

from delivery.problem import RoutingProblem, Stop
from delivery.solver.nodes import Nodes, build_nodes
from delivery.solver.ortools_engine import EngineResult

CONSTRUCTION_S_PER_STOP = 0.005


def run_pyvrp(
    problem: RoutingProblem,
    kept: tuple[Stop, ...],
    deadline: float,
    solution_limit: int | None,
    seed: int,
    initial: list[list[int]] | None = None,
) -> EngineResult | None:
    import pyvrp   # lazy: PyVRP loads only in the solver's second process, not at web start-up
    from pyvrp.stop import MaxIterations, MaxRuntime, MultipleCriteria

    began = time.monotonic()
    nodes = build_nodes(problem, kept)
    data, back = _data(nodes)
    # PyVRP builds its first solution before its clock starts (measured: ~5 s for 920 stops on a
    # loaded machine, which made a 25 s solve take 31.6 s); keep that out of the budget
    runtime = max(0.05, deadline - time.time() - CONSTRUCTION_S_PER_STOP * len(kept))
    stop = MaxRuntime(runtime)
    if solution_limit is not None:
        # iterations, not seconds, bind: the same input and seed give the same plan
        stop = MultipleCriteria([MaxIterations(max(1, solution_limit) * 20), MaxRuntime(runtime)])
    start = _initial_solution(data, back, initial) if initial else None
    result = pyvrp.solve(data, stop, seed=seed, collect_stats=False, display=False, initial_solution=start)
    best = result.best
    if not best.is_feasible():
        return None
    routes: list[list[int]] = [[] for _ in problem.vehicles]
    for route in best.routes():
        k = route.vehicle_type()
        for act in route.schedule():
            if act.is_depot():
                continue
            routes[k].append(back[(str(act.type), act.idx)])
    strategy = f"ils {result.num_iterations} it {result.runtime:.1f} s"
    return EngineResult(tuple(tuple(r) for r in routes), tuple(() for _ in routes), "feasible", strategy, time.monotonic() - began)


def _initial_solution(data: object, back: dict[tuple[str, int], int], initial: list[list[int]]) -> object | None:
    """The caller's routes as a PyVRP solution (warm start); None if PyVRP will not take them."""
    import pyvrp   # lazy: as in run_pyvrp

    to_activity = {node: (kind, idx) for (kind, idx), node in back.items()}
    types = {str(t): t for t in (pyvrp.ActivityType.CLIENT, pyvrp.ActivityType.PICKUP, pyvrp.ActivityType.DELIVERY)}
    try:
        routes = []
        for k, nodes_k in enumerate(initial):
            if nodes_k:
                acts = [pyvrp.Activity(types[to_activity[n][0]], to_activity[n][1]) for n in nodes_k]
                routes.append(pyvrp.Route(data, acts, k))
        return pyvrp.Solution(data, routes)
    except (KeyError, ValueError, TypeError, RuntimeError):
        return None


def _data(nodes: Nodes) -> tuple[object, dict[tuple[str, int], int]]:
    import pyvrp   # lazy: as in run_pyvrp

    problem = nodes.problem
    n_stops = len(nodes.stops)
    n_depots = len(nodes.depot_locations)
    # PyVRP locations: depots first, then one per stop node (so co-located pickups keep their own
    # node and the setup-once rule of the node matrix carries over)
    order = list(range(n_stops, n_stops + n_depots)) + list(range(n_stops))
    loc_of = {node: i for i, node in enumerate(order)}
    perm = np.array(order)
    distance = nodes.cost[np.ix_(perm, perm)]
    duration = (nodes.time - nodes.service[:, None])[np.ix_(perm, perm)]
    np.fill_diagonal(duration, 0)
    duration = np.maximum(duration, 0)
    locations = [pyvrp.Location(0.0, 0.0) for _ in order]
    depots = [pyvrp.Depot(loc_of[n_stops + k]) for k in range(n_depots)]
    horizon = max(v.shift.end for v in problem.vehicles)
    dims = len(problem.dimensions)
    clients, shipments = [], []
    back: dict[tuple[str, int], int] = {}
    for i, s in enumerate(nodes.stops):
        if s.kind == "pickup":
            continue
        lo, hi = (s.window.start, s.window.end) if s.window else (0, horizon)
        required = s.penalty is None
        prize = 0 if required else nodes.penalties[i]
        demand = list(problem.demand(s))
        p = nodes.pickup_of(i)
        if p is None:
            back[(str(pyvrp.ActivityType.CLIENT), len(clients))] = i
            clients.append(pyvrp.Client(loc_of[i], delivery=demand, pickup=[0] * dims, service_duration=s.service_s,
                                        tw_early=lo, tw_late=hi, prize=prize, required=required))
        else:
            ps = nodes.stops[p]
            plo, phi = (ps.window.start, ps.window.end) if ps.window else (0, horizon)
            k = len(shipments)
            back[(str(pyvrp.ActivityType.PICKUP), k)] = p
            back[(str(pyvrp.ActivityType.DELIVERY), k)] = i
            shipments.append(pyvrp.Shipment(loc_of[p], loc_of[i], plo, phi, ps.service_s, lo, hi, s.service_s,
                                            amount=demand, prize=prize + (0 if required else nodes.penalties[p]), required=required))
    depot_index = {node: k for k, node in enumerate(range(n_stops, n_stops + n_depots))}
    vehicle_types = [
        pyvrp.VehicleType(1, capacity=list(v.capacity), start_depot=depot_index[nodes.starts[k]], end_depot=depot_index[nodes.ends[k]],
                          fixed_cost=v.fixed_cost, tw_early=v.shift.start, tw_late=v.shift.end)
        for k, v in enumerate(problem.vehicles)
    ]
    data = pyvrp.ProblemData(locations, clients, depots, vehicle_types, [distance], [duration], shipments=shipments)
    return data, back
