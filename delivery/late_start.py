"""Leave as late as the route allows: the optimiser's schedule starts every van at the start of its
shift, so goods picked up at 08:30 for a 13:00 door would ride (and chilled goods warm) for hours while
the driver waits. For each route, keep the order of stops and find the latest departure that still meets
every window, break and capacity without coming back later than before (binary search over the
departure; ``schedule_route`` checks each candidate)."""

from __future__ import annotations

from dataclasses import replace

from delivery.problem import Route, RoutePlan, RoutingProblem, TimeWindow
from delivery.solver.schedule import ScheduleError, schedule_route


def leave_late(problem: RoutingProblem, plan: RoutePlan) -> RoutePlan:
    return replace(plan, routes=tuple(_latest(problem, route) for route in plan.routes))


def _latest(problem: RoutingProblem, route: Route) -> Route:
    vehicle = next(v for v in problem.vehicles if v.id == route.vehicle_id)
    stops_by_id = {s.id: s for s in problem.stops}
    stops = [stops_by_id[v.stop_id] for v in route.visits]
    breaks = [b.start for b in route.breaks] or None

    def attempt(depart: int) -> Route | None:
        shifted = replace(vehicle, shift=TimeWindow(depart, vehicle.shift.end))
        try:
            candidate = schedule_route(problem, shifted, stops, breaks)
        except ScheduleError:
            return None
        return candidate if candidate.end_time <= route.end_time else None

    best, lo, hi = route, route.start_time, route.end_time
    while hi - lo > 60:                      # a minute is precise enough for a departure time
        mid = (lo + hi) // 2
        found = attempt(mid)
        if found is None:
            hi = mid
        else:
            best, lo = found, mid
    # the same stops in the same order: why a shop is called at twice still holds
    return replace(best, second_calls=route.second_calls)
