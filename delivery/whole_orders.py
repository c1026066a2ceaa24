"""Reads a plan back per order: an order is delivered complete or not at all.

The problem splits an order by shop (one pickup-delivery pair per shop, see ``problem_builder``) and
puts every leg of a door in one group, which the solver keeps on one van (``delivery.solver.whole``).
``partly_unassigned`` is the last guard when the plan is stored: an order with a leg unserved, or
(should a plan ever come back that way) on two vans, is not put on a run in pieces."""

from __future__ import annotations

from collections import Counter, defaultdict
from delivery.problem import RoutePlan
from delivery.problem_builder import BuiltProblem


def vans_per_order(built: BuiltProblem, plan: RoutePlan) -> dict[int, Counter[str]]:
    legs: dict[int, Counter[str]] = defaultdict(Counter)
    for route in plan.routes:
        for visit in route.visits:
            if visit.stop_id.startswith("d"):
                legs[built.stop_order[visit.stop_id]][route.vehicle_id] += 1
    return legs


def split_orders(built: BuiltProblem, plan: RoutePlan) -> set[int]:
    """Orders delivered by more than one van."""
    return {order_id for order_id, vans in vans_per_order(built, plan).items() if len(vans) > 1}


def partly_unassigned(built: BuiltProblem, plan: RoutePlan) -> dict[int, str]:
    """Orders not to deliver: one leg unserved (→ that leg's reason) or, should the searches still
    have left one on two vans, split ("split")."""
    reasons: dict[int, str] = {}
    for item in plan.unassigned:
        reasons.setdefault(built.stop_order[item.stop_id], item.reason)
    for order_id in sorted(split_orders(built, plan)):
        reasons.setdefault(order_id, "split")
    return reasons
