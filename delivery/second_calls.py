"""Why a van calls at a shop a second time in one round, in words for the route sheet (issue #9).

The planner folds a second call at a shop into the first wherever the route still passes its check
(``delivery.solver.whole``); a call that stays comes with the rule the fold broke
(``delivery.problem.SecondCall``). A driver who sees the same shop twice on the sheet should not have
to guess whether the plan is careless: this says what collecting everything on the first call would
have cost.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from delivery.problem import SecondCall, Stop
from delivery.problem_builder import BuiltProblem
from orders.models import Order

AGAIN = "、もう一度寄ります。"
ROOM = "荷台に入りきらない"   # the van is full: the second call is a reload


def why_again(call: SecondCall, built: BuiltProblem, orders: Mapping[int, Order], first_eta: datetime | None,
              origin: datetime) -> str:
    """The sentence for the later call's stop: 「1回目（9:40）にまとめて積むと、…に間に合わないため、もう一度寄ります。」"""
    first = f"1回目（{first_eta:%H:%M}）" if first_eta is not None else "1回目"
    head = f"{first}にまとめて積むと"
    if call.rule == "window" and call.blocking_stop_id:
        return f"{head}、{_whose_window(call.blocking_stop_id, built, orders, origin)}に間に合わないため{AGAIN}"
    if call.rule == "capacity":
        return f"{head}{ROOM}ため{AGAIN}"
    if call.rule == "break":
        return f"{head}、休憩の時間がとれないため{AGAIN}"
    if call.rule == "shift":
        return f"{head}、勤務の終わりまでに戻れないため{AGAIN}"
    if call.rule == "longer":
        return f"{head}道のりが{call.extra / 1000:.1f}km長くなるため{AGAIN}"
    # "order": the first call's goods are handed over before the second call, so it cannot wait
    return f"1回目の品は途中のお届けで使うため、残りをあとで受け取りに{AGAIN[1:]}"


def _whose_window(stop_id: str, built: BuiltProblem, orders: Mapping[int, Order], origin: datetime) -> str:
    stop = _stop(built, stop_id)
    order = orders.get(built.stop_order.get(stop_id, -1))
    until = _clock(origin, stop.window.end) if stop is not None and stop.window is not None else ""
    if stop is not None and stop.kind == "pickup":
        shop_id = built.stop_shop.get(stop_id)
        name = next((line.shop.name for line in order.lines if line.shop_id == shop_id), "ほかのお店") if order else "ほかのお店"
        return f"{name}の受け渡し（{until}まで）" if until else f"{name}の受け渡し"
    if order is not None:
        return f"{order.resident.name}様のお届け（{order.window_start}〜{order.window_end}）"
    return f"ほかのお届け（{until}まで）" if until else "ほかのお届け"


def _stop(built: BuiltProblem, stop_id: str) -> Stop | None:
    return next((s for s in built.problem.stops if s.id == stop_id), None)


def _clock(origin: datetime, seconds: int) -> str:
    return f"{origin + timedelta(seconds=seconds):%H:%M}"
