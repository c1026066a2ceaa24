"""A run's stops as the driver meets them, read from the solver's visits (issue #9: one door, one stop).

The solver plans legs: for each order and shop, a pickup at the shop and a leg at the resident's door.
A driver sees places. Legs one after another at a shop are one call (``picks`` lists the orders whose
goods it collects); legs one after another at a resident's door are one stop that carries every order
handed over there (``RunStop.order_ids``), also when the resident has two orders that day (placed
separately, by staff, or by the simulator: the solver already keeps them on one van, door legs
together, see ``delivery.solver.whole``).

Times are the schedule the solver checked (``delivery.solver.schedule``). The door's set-up is paid once,
on arrival, before the first leg starts, so a stop's ETA is its first leg's start and its service is its
legs' hand-over (and cash) times added: the van leaves when the last leg departs. A door leg that starts
later than the previous leg left (the van waits at the door for a second order's later window, or the
driver's break falls in between) is not one hand-over; it stays a stop of its own with its own ETA.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime, timedelta

from delivery.models import RunStop
from delivery.problem import Route
from delivery.problem_builder import BuiltProblem
from delivery.second_calls import why_again
from orders.models import Order


def route_stops(route: Route, built: BuiltProblem, orders: Mapping[int, Order], still_open: Collection[int],
                origin: datetime) -> tuple[list[RunStop], list[int]]:
    """The stops (unnumbered) of ``route`` for the orders in ``still_open`` (``orders`` holds them, with
    their districts), and the van's peak load per dimension."""
    stops: list[RunStop] = []
    peak = [0] * len(built.problem.dimensions)
    current: RunStop | None = None
    current_key: tuple[str, int] | None = None
    previous = None   # the route's previous visit, kept or not: the schedule ran through it
    again = {call.stop_id: call for call in route.second_calls}
    first_eta: dict[str, datetime] = {}   # the first leg of a call at a shop → that call's ETA
    for visit in route.visits:
        order_id = built.stop_order[visit.stop_id]
        if order_id not in still_open:
            previous = visit
            continue
        peak = [max(a, b) for a, b in zip(peak, visit.load)]
        order = orders[order_id]
        pickup = visit.stop_id.startswith("p")
        shop_id = built.stop_shop[visit.stop_id]
        key = ("pickup", shop_id) if pickup else ("delivery", order.resident_id)
        one_call = pickup or (previous is not None and previous.location == visit.location
                              and visit.start == previous.departure)
        previous = visit
        if current is not None and key == current_key and one_call:
            current.service_s += visit.departure - visit.start
            if pickup and order_id not in current.picks:
                current.picks = [*current.picks, order_id]
            if not pickup and order_id not in current.order_ids:
                current.order_ids.append(order_id)
                current.window_start, current.window_end = _shared_window(current, order)
            continue
        lat, lon = built.points[visit.location]
        current_key = key
        current = RunStop(
            kind="pickup" if pickup else "delivery", shop_id=shop_id if pickup else None,
            picks=[order_id] if pickup else [], order_ids=[] if pickup else [order_id],
            lat=lat, lon=lon, eta=origin + timedelta(seconds=visit.start),
            window_start=None if pickup else order.window_start,
            window_end=None if pickup else order.window_end,
            service_s=visit.departure - visit.start,
        )
        first_eta[visit.stop_id] = current.eta
        if visit.stop_id in again:
            call = again[visit.stop_id]
            current.why = why_again(call, built, orders, first_eta.get(call.first_stop_id), origin)
        stops.append(current)
    return stops, peak


def _shared_window(stop: RunStop, order: Order) -> tuple[str | None, str | None]:
    """The window every order of the stop was promised in (their overlap); the stop's own if none."""
    start, end = max(stop.window_start or "", order.window_start), min(stop.window_end or "99:99", order.window_end)
    return (start, end) if start < end else (stop.window_start, stop.window_end)
