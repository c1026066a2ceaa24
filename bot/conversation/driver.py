"""Drivers: today's run in the chat (ordered stops with time, name, address, items, cash to collect,
notes, a map link) and 配達完了 / 不在 per stop, recorded by ``delivery.stops.record_stop_outcome``
(which also raises the welfare notice for 不在). The run itself reaches the driver when a plan is made,
as a push queued by ``delivery.notices`` with the link to the run page; 「配達」 shows it here as cards."""

from __future__ import annotations


from typing import Any, Mapping

from sqlalchemy.orm import Session

from bot import messages as m
from bot.messages import Message
from bot.conversation.common import error_text, help_, yen
from bot.conversation.state import Ctx
from core.clock import JST
from core.inputs import db_int
from core.errors import DomainError
from delivery.stops import driver_run_on, record_stop_outcome
from orders.service import orders_by_ids

RESULTS = {"done": "配達完了", "not_at_home": "不在"}
STATUS_JA = {"pending": "まだ", "done": "配達完了", "not_at_home": "不在", "refused": "受け取り拒否"}


def _map_link(lat: float, lon: float) -> str:
    return f"https://www.google.com/maps/search/?api=1&query={lat:.6f},{lon:.6f}"


def stop_bubble(stop: Any, orders: list[Any]) -> dict[str, Any]:
    """One delivery stop as a card: the door once, with every order handed over there."""
    resident = orders[0].resident if orders else None
    lines = [f"{stop.eta.astimezone(_jst()):%H:%M}ごろ（{stop.window_start or ''}〜{stop.window_end or ''}）"]
    if resident is not None:
        lines += [f"{resident.name} 様", resident.address]
        if resident.delivery_notes:
            lines.append(f"メモ：{resident.delivery_notes}")
    if orders:
        lines += [f"・{line.name} {line.quantity}{line.unit}" for order in orders for line in order.lines][:8]
        lines.append(f"集金：{yen(sum(order.total_yen for order in orders))}")
    lines.append(f"状態：{STATUS_JA.get(stop.status, stop.status)}")
    buttons = []
    if stop.status == "pending":
        buttons = [m.postback("配達完了", "stop", i=stop.id, r="done"),
                   m.postback("不在", "stop", i=stop.id, r="not_at_home")]
    buttons.append({"type": "uri", "label": "地図", "uri": _map_link(stop.lat, stop.lon)})
    return m.bubble(f"{stop.seq}番目", lines, buttons)


def _jst() -> Any:
    return JST


def run_messages(session: Session, run: Any, *, only_pending: bool = True) -> list[Message]:
    """The run as a header text and a carousel of the next stops (at most 12)."""
    stops = [s for s in run.stops if s.kind == "delivery"]
    pending = [s for s in stops if s.status == "pending"]
    head = f"今日の配達：{len(stops)}件（のこり{len(pending)}件）"
    shown = (pending if only_pending else stops)[: m.MAX_BUBBLES]
    if not shown:
        return [m.text(head + "\nおつかれさまでした。", quick=m.quick_reply([m.say("配達")], start_over=False))]
    bubbles = [stop_bubble(s, orders_by_ids(session, s.order_ids))
               for s in shown]
    return [m.text(head), m.flex(head, bubbles, quick=m.quick_reply([m.say("配達")], start_over=False))]


def show_run(ctx: Ctx) -> list[Message]:
    run = driver_run_on(ctx.session, ctx.extra["driver_id"], ctx.now.astimezone(_jst()).date())
    if run is None:
        return [m.text("今日の配達はまだ決まっていません。", quick=m.quick_reply([m.say("配達")], start_over=False))]
    return run_messages(ctx.session, run)


def record(ctx: Ctx, stop_id: int, result: str) -> list[Message]:
    run = driver_run_on(ctx.session, ctx.extra["driver_id"], ctx.now.astimezone(_jst()).date())
    try:
        with ctx.session.begin_nested():
            record_stop_outcome(ctx.session, stop_id=stop_id, outcome=result, actor=ctx.actor,
                                channel="line", now=ctx.now, run_id=run.id if run else -1)
    except DomainError as exc:
        return [m.text(error_text(exc))] + show_run(ctx)[-1:]
    notice = "\nご家族・担当者にお知らせしました。" if result == "not_at_home" else ""
    return [m.text(f"{RESULTS[result]}を記録しました。{notice}")] + show_run(ctx)[-1:]


def action(ctx: Ctx, name: str, d: Mapping[str, str]) -> list[Message]:
    if name == "stop" and d.get("r") in RESULTS:
        return record(ctx, db_int(d.get("i")) or 0, d["r"])
    if name == "help":
        return help_(ctx)
    return show_run(ctx)


def typed(ctx: Ctx, text: str) -> list[Message]:
    if text.strip() in ("電話で相談", "相談", "ヘルプ"):
        return help_(ctx)
    return show_run(ctx)
