"""Drivers: today's run (ordered stops with time, name, address, items, cash, notes, map link) and
配達完了 / 不在 per stop.

Recording a stop's result needs the delivery service that owns run stops (welfare notice on 不在,
order status); until ``delivery.stops.record_stop_result`` exists the bot says so plainly and gives
the coordinator's number instead of pretending.
"""

from __future__ import annotations

from typing import Any, Mapping

from linebot.v3.messaging import Message
from sqlalchemy import select

from bot import messages as m
from bot.conversation.common import error_text, help_, yen
from bot.conversation.state import Ctx
from otodoke.errors import DomainError

RESULTS = {"done": "配達完了", "not_at_home": "不在"}


def _today_run(ctx: Ctx) -> Any:
    from delivery.models import Plan, Run
    today = ctx.now.date()
    return ctx.session.scalars(
        select(Run).join(Plan, Plan.id == Run.plan_id)
        .where(Plan.delivery_date == today, Plan.active.is_(True), Run.driver_id == ctx.extra["driver_id"])
        .order_by(Run.id)).first()


def _map_link(lat: float, lon: float) -> str:
    return f"https://www.google.com/maps/search/?api=1&query={lat:.6f},{lon:.6f}"


def stop_bubble(stop: Any, order: Any, resident: Any) -> dict[str, Any]:
    """One delivery stop as a card (used for the run push and the chat)."""
    lines = [f"{stop.eta:%H:%M}ごろ（{stop.window_start or ''}〜{stop.window_end or ''}）"]
    if resident is not None:
        lines += [f"{resident.name} 様", resident.address]
        if resident.delivery_notes:
            lines.append(f"メモ：{resident.delivery_notes}")
    if order is not None:
        lines += [f"・{line.name} {line.quantity}{line.unit}" for line in order.lines[:8]]
        lines.append(f"集金：{yen(order.total_yen)}")
    lines.append(f"状態：{ {'pending': '未配達', 'done': '配達完了', 'not_at_home': '不在', 'refused': '受取拒否'}.get(stop.status, stop.status)}")
    buttons = []
    if stop.status == "pending":
        buttons = [m.pb_dict("配達完了", "stop", i=stop.id, r="done"), m.pb_dict("不在", "stop", i=stop.id, r="not_at_home")]
    buttons.append({"type": "uri", "label": "地図", "uri": _map_link(stop.lat, stop.lon)})
    return m.bubble(f"{stop.seq}番目", lines, buttons)


def run_messages(ctx: Ctx) -> list[Message]:
    from orders.models import Order
    run = _today_run(ctx)
    if run is None:
        return [m.text("今日の配達はまだ決まっていません。", quick=m.quick_reply([m.say("配達")], start_over=False))]
    stops = [s for s in run.stops if s.kind == "delivery"]
    pending = [s for s in stops if s.status == "pending"]
    bubbles = []
    for stop in (pending or stops)[: m.MAX_BUBBLES]:
        order = ctx.session.get(Order, stop.order_id) if stop.order_id else None
        bubbles.append(stop_bubble(stop, order, order.resident if order else None))
    head = f"今日の配達：{len(stops)}件（のこり{len(pending)}件）"
    if not bubbles:
        return [m.text(head, quick=m.quick_reply([m.say("配達")], start_over=False))]
    return [m.text(head), m.flex(head, bubbles, quick=m.quick_reply([m.say("配達")], start_over=False))]


def record(ctx: Ctx, stop_id: int, result: str) -> list[Message]:
    try:
        from delivery.stops import record_stop_result  # type: ignore[import-not-found]
    except ImportError:
        phone = ctx.config.get("COORDINATOR_PHONE") or ""
        return [m.text(f"LINEでの{RESULTS.get(result, '')}の記録は、まだ使えません。\n"
                       f"お手数ですが担当者に電話してください。📞 {phone}")]
    try:
        with ctx.session.begin_nested():
            record_stop_result(ctx.session, stop_id=stop_id, result=result, actor=ctx.actor,
                               channel="line", now=ctx.now)
    except DomainError as exc:
        return [m.text(error_text(exc))]
    return [m.text(f"{RESULTS.get(result, '')}を記録しました。")] + run_messages(ctx)[-1:]


def action(ctx: Ctx, name: str, d: Mapping[str, str]) -> list[Message]:
    if name == "stop" and d.get("r") in RESULTS:
        return record(ctx, int(d.get("i") or 0), d["r"])
    if name == "help":
        return help_(ctx)
    return run_messages(ctx)


def typed(ctx: Ctx, text: str) -> list[Message]:
    return run_messages(ctx)
