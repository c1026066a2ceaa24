"""Keeps each order whole: one van carries every shop's goods of an order to the door.

The problem splits an order by shop (one pickup-delivery pair per shop, see ``problem_builder``), and
the solver treats the pairs independently, so it may give one order's legs to different vans: the
resident would then open the door two or three times. After a first solve, ``pin_split_orders`` pins
every leg of such an order (pickups and deliveries) to the van that already carries most of it, and the
problem is solved again from the first plan. Whatever the solver leaves half-served is dropped whole by
``partly_unassigned`` (an order is delivered complete or not at all)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import replace

from delivery.problem import RoutePlan, RoutingProblem
from delivery.problem_builder import BuiltProblem


def vans_per_order(built: BuiltProblem, plan: RoutePlan) -> dict[int, Counter[str]]:
    legs: dict[int, Counter[str]] = defaultdict(Counter)
    for route in plan.routes:
        for visit in route.visits:
            if visit.stop_id.startswith("d"):
                legs[built.stop_order[visit.stop_id]][route.vehicle_id] += 1
    return legs


def split_orders(built: BuiltProblem, plan: RoutePlan) -> dict[int, str]:
    """Orders delivered by more than one van → the van carrying most of their legs (ties: first id)."""
    return {order_id: _majority(vans) for order_id, vans in vans_per_order(built, plan).items()
            if len(vans) > 1}


def _majority(vans: Counter[str]) -> str:
    return sorted(vans.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]


def pin_split_orders(built: BuiltProblem, plan: RoutePlan) -> RoutingProblem | None:
    """None when no order is split; otherwise the problem with every order of several legs pinned to
    one van (a split one to its majority van, a whole one to its own), so that the second search
    cannot split another order while it mends these."""
    if not split_orders(built, plan):
        return None
    pins = {order_id: _majority(vans) for order_id, vans in vans_per_order(built, plan).items()
            if sum(vans.values()) > 1}
    stops = tuple(replace(stop, vehicles=(pins[built.stop_order[stop.id]],))
                  if built.stop_order.get(stop.id) in pins else stop
                  for stop in built.problem.stops)
    return replace(built.problem, stops=stops)


def partly_unassigned(built: BuiltProblem, plan: RoutePlan) -> dict[int, str]:
    """Orders not to deliver: one leg unserved (→ that leg's reason) or, should the searches still
    have left one on two vans, split ("split")."""
    reasons: dict[int, str] = {}
    for item in plan.unassigned:
        reasons.setdefault(built.stop_order[item.stop_id], item.reason)
    for order_id in split_orders(built, plan):
        reasons.setdefault(order_id, "split")
    return reasons


def consistent_start(problem: RoutingProblem, plan: RoutePlan) -> RoutePlan:
    """``plan`` without the visits the pins now forbid, as a warm start the solver accepts: the search
    re-inserts those legs on their own van."""
    allowed = {s.id: s.vehicles for s in problem.stops}
    routes = tuple(replace(r, visits=tuple(v for v in r.visits
                                           if allowed.get(v.stop_id) is None
                                           or r.vehicle_id in allowed[v.stop_id]))
                   for r in plan.routes)
    return replace(plan, routes=routes)
