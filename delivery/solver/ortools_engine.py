"""OR-Tools routing (``ortools.constraint_solver.pywrapcp``, the API of the pinned 9.15 release).

Follows the step order of the OR-Tools samples (manager, model, transits, dimensions, search
parameters, solve, walk ``NextVar``) with these choices, each measured (see docs/benchmarks.md):

* every transit is a matrix or a vector handed to C++ (``RegisterTransitMatrix``,
  ``RegisterUnaryTransitVector``), never a Python callback: the search evaluates millions of arcs;
* every stop sits in its own disjunction with a penalty, so a first solution always exists (the empty
  plan is one) and a stop is dropped only when serving it would cost more than its penalty;
* the first solution comes from an insertion heuristic that copes with tight windows and pairs,
  then guided local search improves it until the time or solution limit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from delivery.solver.nodes import Nodes

FIRST = routing_enums_pb2.FirstSolutionStrategy
META = routing_enums_pb2.LocalSearchMetaheuristic
LARGE = 300  # nodes; above this the neighbourhoods are restricted to near neighbours
NEIGHBOURS = 40
# RoutingModel.status() codes of the 9.15 release
STATUS = {0: "not_solved", 1: "success", 2: "time_limit_before_local_optimum", 3: "fail", 4: "fail_timeout",
          5: "invalid", 6: "infeasible", 7: "optimal"}


@dataclass(frozen=True)
class EngineResult:
    routes: tuple[tuple[int, ...], ...]  # stop nodes per vehicle, in visiting order
    break_starts: tuple[tuple[int, ...], ...]  # per vehicle, planned start of each break
    status: str
    strategy: str
    seconds: float


def solve_ortools(
    nodes: Nodes,
    *,
    time_limit_s: float,
    solution_limit: int | None,
    strategy: str | None = None,
    gls_lambda: float = 0.1,
    initial_routes: list[list[int]] | None = None,
) -> EngineResult | None:
    began = time.monotonic()
    problem = nodes.problem
    vehicles = problem.vehicles
    # 1. manager and model: one start and one end node per vehicle (multi-depot)
    manager = pywrapcp.RoutingIndexManager(nodes.n, len(vehicles), list(nodes.starts), list(nodes.ends))
    routing = pywrapcp.RoutingModel(manager)
    solver = routing.solver()

    # 2. arc cost: the cost matrix, evaluated in C++
    cost_cb = routing.RegisterTransitMatrix(nodes.cost.tolist())
    routing.SetArcCostEvaluatorOfAllVehicles(cost_cb)
    for k, v in enumerate(vehicles):
        if v.fixed_cost:
            routing.SetFixedCostOfVehicle(v.fixed_cost, k)

    # 3. time: transit = service here + travel + setup there; waiting is slack
    horizon = max(v.shift.end for v in vehicles)
    time_cb = routing.RegisterTransitMatrix(nodes.time.tolist())
    routing.AddDimension(time_cb, horizon, horizon, False, "Time")
    time_dim = routing.GetDimensionOrDie("Time")
    for i, s in enumerate(nodes.stops):
        if s.window is not None:
            time_dim.CumulVar(manager.NodeToIndex(i)).SetRange(s.window.start, min(s.window.end, horizon))
    for k, v in enumerate(vehicles):
        time_dim.CumulVar(routing.Start(k)).SetRange(v.shift.start, v.shift.end)
        time_dim.CumulVar(routing.End(k)).SetRange(v.shift.start, v.shift.end)
        # depart as late and return as early as possible: reported times without idle waiting
        routing.AddVariableMaximizedByFinalizer(time_dim.CumulVar(routing.Start(k)))
        routing.AddVariableMinimizedByFinalizer(time_dim.CumulVar(routing.End(k)))

    # 4. breaks: fixed-duration intervals that may not overlap a service (OR-Tools sample vrp_breaks)
    breaks: list[list[pywrapcp.IntervalVar]] = []
    if any(v.breaks for v in vehicles):
        visit = [0] * routing.Size()
        for index in range(routing.Size()):
            node = manager.IndexToNode(index)
            visit[index] = int(nodes.service[node])
        for k, v in enumerate(vehicles):
            ivs = [
                solver.FixedDurationIntervalVar(b.window.start, b.window.end, b.duration_s, False, f"break {v.id} {j}")
                for j, b in enumerate(v.breaks)
            ]
            breaks.append(ivs)
            if ivs:
                time_dim.SetBreakIntervalsOfVehicle(ivs, k, visit)

    # 5. capacity, one dimension each; see _load_vectors for how depot goods and pickups mix
    for d, name in enumerate(problem.dimensions):
        transit, free_start = _load_vector(nodes, d)
        if not any(transit):
            continue
        cb = routing.RegisterUnaryTransitVector(transit)
        routing.AddDimensionWithVehicleCapacity(cb, 0, [v.capacity[d] for v in vehicles], not free_start, f"load:{name}")
        if free_start:
            dim = routing.GetDimensionOrDie(f"load:{name}")
            for k in range(len(vehicles)):
                dim.CumulVar(routing.End(k)).SetValue(0)

    # 6. pairs: same vehicle, pickup first, both served or both dropped
    for i, s in enumerate(nodes.stops):
        p = nodes.pickup_of(i)
        if p is None:
            continue
        pi, di = manager.NodeToIndex(p), manager.NodeToIndex(i)
        routing.AddPickupAndDelivery(pi, di)
        solver.Add(routing.VehicleVar(pi) == routing.VehicleVar(di))
        solver.Add(routing.ActiveVar(pi) == routing.ActiveVar(di))
        solver.Add(time_dim.CumulVar(pi) <= time_dim.CumulVar(di))

    # 6b. groups: every stop of a group on one vehicle. A hard equality of the vehicle variables
    # leaves the insertion heuristics no first solution (a group's first pair can never be placed
    # alone), so the model prices every extra vehicle a group uses far above any detour instead;
    # ``routing`` then verifies that no group came back split.
    split_cost = nodes.split_cost()
    for members in nodes.groups():
        routing.AddSoftSameVehicleConstraint([manager.NodeToIndex(m) for m in members], split_cost)

    # 7. vehicle restrictions and drop penalties
    vehicle_index = {v.id: k for k, v in enumerate(vehicles)}
    for i, s in enumerate(nodes.stops):
        index = manager.NodeToIndex(i)
        if s.vehicles is not None:
            # SetAllowedVehiclesForIndex rejects every Python sequence in the 9.15 wheel (its
            # absl::Span typemap is missing); restricting the vehicle variable is the same constraint.
            # -1 keeps the stop droppable (it sits in a disjunction with a penalty).
            routing.VehicleVar(index).SetValues([-1, *sorted(vehicle_index[x] for x in s.vehicles)])
        routing.AddDisjunction([index], nodes.penalties[i])

    # 8. search parameters
    params = pywrapcp.DefaultRoutingSearchParameters()
    # measured: local cheapest insertion is the better start on 100-customer instances, parallel
    # cheapest insertion (with the neighbour restriction below) on town-sized days
    strategy = strategy or ("PARALLEL_CHEAPEST_INSERTION" if nodes.n > LARGE else "LOCAL_CHEAPEST_INSERTION")
    params.first_solution_strategy = getattr(FIRST, strategy)
    params.local_search_metaheuristic = META.GUIDED_LOCAL_SEARCH
    params.guided_local_search_lambda_coefficient = gls_lambda
    if nodes.n > LARGE:
        # On a town-sized day the insertion operators (pairs in particular) scan every position for
        # every unserved stop and the search never finishes a neighbourhood; looking only at each
        # stop's nearest neighbours keeps the moves that matter (measured in docs/benchmarks.md).
        ratio = min(1.0, NEIGHBOURS / nodes.n)
        params.ls_operator_neighbors_ratio = ratio
        params.ls_operator_min_neighbors = NEIGHBOURS
        for gci in (params.global_cheapest_insertion_first_solution_parameters, params.global_cheapest_insertion_ls_operator_parameters):
            gci.neighbors_ratio = ratio
            gci.min_neighbors = NEIGHBOURS
    if solution_limit is not None:
        params.solution_limit = solution_limit

    # 9. solve, from the caller's routes when re-planning. The model is closed first and the clock read
    # after it: closing a demo day's model takes ~0.5-1 s, which a limit set before it would overrun.
    params.time_limit.FromMilliseconds(int(max(0.05, time_limit_s) * 1000))  # provisional, for the close
    routing.CloseModelWithParameters(params)
    remaining = max(0.05, time_limit_s - (time.monotonic() - began))
    params.time_limit.FromMilliseconds(int(remaining * 1000))
    assignment = None
    used = strategy
    if initial_routes is not None:
        start = routing.ReadAssignmentFromRoutes(initial_routes, True)
        if start is not None:
            used = "warm_start"
            assignment = routing.SolveFromAssignmentWithParameters(start, params)
    if assignment is None:
        assignment = routing.SolveWithParameters(params)
    if assignment is None:
        return None

    # 10. walk NextVar
    routes: list[tuple[int, ...]] = []
    break_starts: list[tuple[int, ...]] = []
    for k in range(len(vehicles)):
        index = routing.Start(k)
        route: list[int] = []
        index = assignment.Value(routing.NextVar(index))
        while not routing.IsEnd(index):
            route.append(manager.IndexToNode(index))
            index = assignment.Value(routing.NextVar(index))
        routes.append(tuple(route))
        if breaks and breaks[k]:
            break_starts.append(tuple(assignment.StartValue(iv) for iv in breaks[k]))
        else:
            break_starts.append(())
    status = STATUS.get(routing.status(), str(routing.status()))
    return EngineResult(tuple(routes), tuple(break_starts), status, used, time.monotonic() - began)


def _load_vector(nodes: Nodes, d: int) -> tuple[list[int], bool]:
    """Per-node load change for dimension ``d``, and whether the start load is left free.

    Depot goods only: deliveries add up (+q), start at zero — the cumul is then "delivered so far",
    which is at most the capacity exactly when the load at the start is. Shop pairs only: pickup +q,
    delivery -q, start at zero. Both mixed: depot deliveries -q, the start load is free and the end load
    is forced to zero, so the start load equals the depot goods on board and every cumul is the true
    load at that point.
    """
    problem = nodes.problem
    has_depot = any(s.kind == "delivery" and s.pickup is None and problem.demand(s)[d] for s in nodes.stops)
    has_pairs = any(s.kind == "pickup" and problem.demand(s)[d] for s in nodes.stops)
    free_start = has_depot and has_pairs
    out = [0] * nodes.n
    for i, s in enumerate(nodes.stops):
        q = problem.demand(s)[d]
        if s.kind == "pickup":
            out[i] = q
        elif s.pickup is not None:
            # a paired delivery carries the pickup's goods; the delivery's own demand is what it drops
            out[i] = -q
        else:
            out[i] = -q if free_start else q
    return out, free_start
