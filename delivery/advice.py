"""When a plan leaves orders out: which limit binds, and what would have served them all.

Computed, not guessed: the day is solved again with one limit eased at a time, warm-started from the
plan, and the first easing under which every left-out stop is served names the binding limit (and the
reason each stop gets is the first easing that served it). The easings, most actionable first:

1. one more van (the largest of the fleet) for the hours the left-out doors want;
2. twice the room on every van (crates and cold box);
3. the shops' pickup hours two hours wider on each side;
4. the residents' windows an hour wider on each side.

Pure: no database. ``plan_day`` calls it only when a plan leaves something out, after the main solve.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from delivery.problem import RoutePlan, RoutingProblem, Stop, TimeWindow, Unassigned, UnassignedReason
from delivery.routing import solve

if TYPE_CHECKING:
    from delivery.problem_builder import BuiltProblem

SOLVED_ALONE: tuple[UnassignedReason, ...] = ("window_unreachable", "shift_too_short", "capacity",
                                               "vehicle_not_allowed", "pair_infeasible")
EARLIEST_S, LATEST_S = 7 * 3600, 19 * 3600


@dataclass(frozen=True)
class Advice:
    text: str                                   # Japanese, for staff
    reasons: dict[str, UnassignedReason]       # left-out stop id → the limit that binds it


def _hhmm(s: int) -> str:
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}"


def _extra_van(problem: RoutingProblem, left: list[Stop]) -> tuple[RoutingProblem, str]:
    base = max(problem.vehicles, key=lambda v: (sum(v.capacity), v.shift.end - v.shift.start))
    doors = [s.window for s in left if s.kind == "delivery" and s.window is not None]
    start = max(EARLIEST_S, min((w.start for w in doors), default=base.shift.start) - 3600)
    end = min(LATEST_S, max((w.end for w in doors), default=base.shift.end) + 1800)
    start, end = (start // 1800) * 1800, -(-end // 1800) * 1800  # on the half hour, as shifts are
    van = replace(base, id="advice-extra-van", shift=TimeWindow(start, max(end, start + 3600)), breaks=())
    return replace(problem, vehicles=problem.vehicles + (van,)), f"あと1台（{_hhmm(start)}〜{_hhmm(end)}）あれば"


def _more_room(problem: RoutingProblem, left: list[Stop]) -> tuple[RoutingProblem, str]:
    vans = tuple(replace(v, capacity=tuple(2 * c for c in v.capacity)) for v in problem.vehicles)
    return replace(problem, vehicles=vans), "各車両の積載量（箱・保冷庫）が今の2倍あれば"


def _widen(kind: str, by_s: int, label: str) -> Callable[[RoutingProblem, list[Stop]], tuple[RoutingProblem, str]]:
    """An easing that opens every ``kind`` stop's window by ``by_s`` on each side."""
    def eased(problem: RoutingProblem, left: list[Stop]) -> tuple[RoutingProblem, str]:
        stops = tuple(replace(s, window=TimeWindow(max(0, s.window.start - by_s), s.window.end + by_s))
                      if s.kind == kind and s.window is not None else s for s in problem.stops)
        return replace(problem, stops=stops), label
    return eased


EASINGS: tuple[tuple[UnassignedReason, Callable[[RoutingProblem, list[Stop]], tuple[RoutingProblem, str]]], ...] = (
    ("fleet_time", _extra_van),
    ("fleet_capacity", _more_room),
    ("shop_hours", _widen("pickup", 7200, "お店の集荷時間が前後2時間ずつ長ければ")),
    ("door_window", _widen("delivery", 3600, "お届けの時間帯が前後1時間ずつ広ければ")),
)


def what_would_fix(problem: RoutingProblem, plan: RoutePlan, *, time_limit_s: float,
                   orders_left: int) -> Advice | None:
    """None when nothing was left out that the fleet could serve alone; else the advice."""
    left_ids = {u.stop_id for u in plan.unassigned if u.reason not in SOLVED_ALONE}
    if not left_ids:
        return None
    left = [s for s in problem.stops if s.id in left_ids]
    reasons: dict[str, UnassignedReason] = {}
    fix: str | None = None
    per_try = max(1.0, time_limit_s / len(EASINGS))
    for reason, ease in EASINGS:
        eased, label = ease(problem, left)
        trial = solve(eased, time_limit_s=per_try, initial_plan=plan, engines=("ortools",))
        still_out = {u.stop_id for u in trial.unassigned}
        for sid in left_ids - still_out:
            reasons.setdefault(sid, reason)
        if fix is None and not (left_ids & still_out):
            fix = label
        if len(reasons) == len(left_ids):
            break
    if fix is not None:
        text = f"{fix}、入りきらなかった{orders_left}件も含めて全件お届けできます（計算による見込み）。"
    else:
        text = (f"{orders_left}件が入りきりませんでした。車両を1台増やしても、積載量・集荷時間・時間帯を広げても"
                "全件は入りません。担当者が個別に調整してください。")
    return Advice(text, reasons)


def left_out_advice(built: "BuiltProblem", plan: RoutePlan, *, time_limit_s: float) -> Advice | None:
    """``what_would_fix`` for a planned day, counting the orders (not the legs) left out."""
    left = {built.stop_order[u.stop_id] for u in plan.unassigned if u.reason not in SOLVED_ALONE}
    if not left:
        return None
    return what_would_fix(built.problem, plan, time_limit_s=time_limit_s, orders_left=len(left))


def search_again(problem: RoutingProblem, plan: RoutePlan, *, time_limit_s: float) -> RoutePlan:
    """Before any limit is blamed, the unchanged day is searched again from ``plan``.

    A stop that the same fleet, hours and windows can serve was left out by the search (an unlucky
    first solution, a loaded machine), not by a limit: that plan is the day's plan. The returned
    plan's seconds count both searches, so the time a day took is never understated."""
    if not any(u.reason not in SOLVED_ALONE for u in plan.unassigned):
        return plan
    again = solve(problem, time_limit_s=time_limit_s, initial_plan=plan)
    better = again if (len(again.unassigned), again.objective) < (len(plan.unassigned), plan.objective) else plan
    stats = replace(better.stats, seconds=round(plan.stats.seconds + again.stats.seconds, 3))
    return replace(better, stats=stats)


def with_reasons(plan: RoutePlan, reasons: dict[str, UnassignedReason]) -> RoutePlan:
    """The plan with each left-out stop's reason replaced by the binding one found."""
    unassigned = tuple(Unassigned(u.stop_id, reasons.get(u.stop_id, u.reason)) for u in plan.unassigned)
    return replace(plan, unassigned=unassigned)
