"""The node layout shared by every engine, and the triage of stops no vehicle could ever serve.

Engines work on *nodes*: one per stop kept in the model, then one per distinct depot location. Node
matrices fold everything time-related into the arc, so an engine needs no callbacks into Python:
``time[i][j] = service(i) + travel(i, j) + setup(j) if j is at another location``. That last term is
what collapses many pickups at one shop into one visit (see ``delivery.problem``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from delivery.problem import RoutingProblem, Stop, UnassignedReason, Vehicle


@dataclass(frozen=True)
class Nodes:
    problem: RoutingProblem
    stops: tuple[Stop, ...]  # the stops kept in the model, node i = stops[i]
    depot_locations: tuple[int, ...]  # node len(stops) + k sits at depot_locations[k]
    starts: tuple[int, ...]  # start node per vehicle
    ends: tuple[int, ...]
    locations: np.ndarray  # location per node
    cost: np.ndarray  # node x node arc cost
    time: np.ndarray  # node x node transit time (service + travel + setup)
    service: np.ndarray  # per node
    penalties: tuple[int, ...]  # per stop node
    index_of: dict[str, int]  # stop id -> node

    @property
    def n(self) -> int:
        return len(self.locations)

    def groups(self) -> list[list[int]]:
        """Nodes per group with more than one member, in node order."""
        out: dict[str, list[int]] = {}
        for i, s in enumerate(self.stops):
            if s.group is not None:
                out.setdefault(s.group, []).append(i)
        return [m for m in out.values() if len(m) > 1]

    def split_cost(self) -> int:
        """What one extra vehicle for a group costs: more than any detour, less than dropping a stop."""
        return max(1, min(self.penalties, default=1) // 4)

    def pickup_of(self, node: int) -> int | None:
        p = self.stops[node].pickup
        return None if p is None else self.index_of[p]


def big_penalty(problem: RoutingProblem) -> int:
    """A penalty larger than any plan's cost, so "must serve" stops are dropped only if impossible."""
    cost = np.asarray(problem.cost, dtype=np.int64)
    worst_arc = int(cost.max()) if cost.size else 0
    fixed = sum(v.fixed_cost for v in problem.vehicles)
    return 10 * (2 * worst_arc * (len(problem.stops) + len(problem.vehicles) + 1) + fixed) + 1_000_000


def build_nodes(problem: RoutingProblem, stops: tuple[Stop, ...]) -> Nodes:
    depot_locations = tuple(sorted({v.start_location for v in problem.vehicles} | {v.end_location for v in problem.vehicles}))
    base = len(stops)
    depot_node = {loc: base + k for k, loc in enumerate(depot_locations)}
    locations = np.array([s.location for s in stops] + list(depot_locations), dtype=np.int64)
    service = np.array([s.service_s for s in stops] + [0] * len(depot_locations), dtype=np.int64)
    loc_cost = np.asarray(problem.cost, dtype=np.int64)
    loc_travel = np.asarray(problem.travel_s, dtype=np.int64)
    setup_loc = np.asarray(problem.setup_s or [0] * len(problem.travel_s), dtype=np.int64)
    cost = loc_cost[np.ix_(locations, locations)]
    travel = loc_travel[np.ix_(locations, locations)]
    moved = locations[:, None] != locations[None, :]
    setup = np.where(moved, setup_loc[locations][None, :], 0)
    setup[:, base:] = 0  # no setup when coming home
    time = service[:, None] + travel + setup
    np.fill_diagonal(time, 0)
    np.fill_diagonal(cost, 0)
    big = big_penalty(problem)
    penalties = tuple(big if s.penalty is None else s.penalty for s in stops)
    return Nodes(
        problem=problem,
        stops=stops,
        depot_locations=depot_locations,
        starts=tuple(depot_node[v.start_location] for v in problem.vehicles),
        ends=tuple(depot_node[v.end_location] for v in problem.vehicles),
        locations=locations,
        cost=cost,
        time=time,
        service=service,
        penalties=penalties,
        index_of={s.id: i for i, s in enumerate(stops)},
    )


def _allowed(stop: Stop, vehicles: tuple[Vehicle, ...]) -> list[Vehicle]:
    return [v for v in vehicles if stop.vehicles is None or v.id in stop.vehicles]


def _window(stop: Stop, v: Vehicle) -> tuple[int, int]:
    w = stop.window
    return (v.shift.start, v.shift.end) if w is None else (w.start, w.end)


def triage(problem: RoutingProblem) -> dict[str, UnassignedReason]:
    """Stops that no vehicle can serve even alone, each with the binding reason.

    Checked per stop (or per pickup/delivery pair) against each allowed vehicle on an otherwise empty
    route: capacity, reaching the window, getting home before the shift ends. Breaks are not counted
    here; a stop lost to a break shows up later as "fleet_time".
    """
    by_id = {s.id: s for s in problem.stops}
    delivery_of = {s.pickup: s for s in problem.stops if s.pickup is not None}
    out: dict[str, UnassignedReason] = {}
    for s in problem.stops:
        if s.kind == "pickup":
            continue  # judged together with its delivery
        p = by_id[s.pickup] if s.pickup else None
        vehicles = _allowed(s, problem.vehicles)
        if p is not None:
            vehicles = [v for v in vehicles if v in _allowed(p, problem.vehicles)]
        if not vehicles:
            reason: UnassignedReason = "vehicle_not_allowed"
        else:
            demand = problem.demand(s)
            fits = [v for v in vehicles if all(d <= c for d, c in zip(demand, v.capacity))]
            reason = "capacity"
            if fits:
                reasons = [_time_reason(problem, v, p, s) for v in fits]
                if None in reasons:
                    continue
                for r in ("pair_infeasible", "shift_too_short", "window_unreachable"):
                    if r in reasons:
                        reason = r  # type: ignore[assignment]
                        break
        out[s.id] = reason
        if p is not None:
            out[p.id] = reason
    # a pickup whose delivery is gone goes too (validation guarantees every pickup feeds a delivery)
    for pid, d in delivery_of.items():
        if d.id in out and pid is not None:
            out[pid] = out[d.id]
    return out


def _time_reason(problem: RoutingProblem, v: Vehicle, p: Stop | None, d: Stop) -> UnassignedReason | None:
    t = problem.travel_s
    here, now = v.start_location, v.shift.start
    for stop in ([p] if p else []) + [d]:
        lo, hi = _window(stop, v)
        arrive = now + t[here][stop.location] + (problem.setup(stop.location) if stop.location != here else 0)
        if arrive > hi:
            if stop is d and p is not None and _alone_ok(problem, v, d):
                return "pair_infeasible"
            return "window_unreachable"
        now = max(arrive, lo) + stop.service_s
        here = stop.location
    if now + t[here][v.end_location] > v.shift.end:
        return "shift_too_short"
    return None


def _alone_ok(problem: RoutingProblem, v: Vehicle, d: Stop) -> bool:
    lo, hi = _window(d, v)
    arrive = v.shift.start + problem.travel_s[v.start_location][d.location] + problem.setup(d.location)
    return arrive <= hi
