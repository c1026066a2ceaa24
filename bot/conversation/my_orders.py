"""いつもの (two taps), and checking, changing and cancelling orders until the cutoff."""

from __future__ import annotations

from typing import Any

from bot import messages as m
from bot.messages import Message
from bot.conversation.common import date_ja, error_text, menu, remember_back, yen
from bot.conversation.ordering import addition_notes, quote_bubble, repeat_question, show_basket
from bot.conversation.state import Ctx
from core.clock import JST
from core.errors import DomainError
from delivery.door_orders import cancel_order
from delivery.notices import eta_window
from delivery.order_stop import order_stop
from orders.door import REPEAT_QUESTION
from orders.service import get_order, order_status, recent_repeat, reorder_usual_at_door, usual_basket


def _skipped_notes(skipped: Any) -> list[str]:
    # ``reason`` is already a Japanese sentence from the orders service (sold out names 「売り切れ」).
    return [f"※{s.name}：{s.reason}（今回は外しました）" for s in skipped or ()]


def usual(ctx: Ctx) -> list[Message]:
    """The usual basket with date and total; one more tap (確定) orders it, or adds it to the open order
    of that day. Just ordered the same (いつもの tapped twice): ask before anything else."""
    try:
        basket = usual_basket(ctx.session, resident_id=ctx.resident_id, now=ctx.now)
    except DomainError as exc:
        return menu(ctx, error_text(exc))
    notes = _skipped_notes(basket.skipped)
    if not basket.items or basket.quote is None:
        # No history at all is not "unavailable" (the phone line says the same).
        lead = ["いつもの商品は、いまはご用意できません。"] if basket.skipped else \
            ["これまでのご注文が見つかりませんでした。「注文する」からお選びください。"]
        return menu(ctx, "\n".join(notes + lead))
    again = recent_repeat(ctx.session, resident_id=ctx.resident_id, items=basket.items, now=ctx.now)
    if again is not None:
        return repeat_question(ctx, REPEAT_QUESTION.format(order_id=again.id),
                               m.postback("はい", "usualok", into=basket.into, rep=1))
    ctx.state["step"] = "usual"
    back = remember_back(ctx, "menu")
    title = "いつものご注文" if basket.into is None else f"いつもの：注文番号 {basket.into} に追加"
    notes += addition_notes(basket.into) if basket.into is not None else []
    bubble = quote_bubble(basket.quote, title=title, notes=notes,
                          confirm=m.postback("確定", "usualok", into=basket.into), cancel=m.postback("やめる", "menu"))
    return [m.flex("いつものご注文", [bubble], quick=m.quick_reply([], back=back))]


def usual_confirm(ctx: Ctx, *, into: int | None = None, repeat_ok: bool = False) -> list[Message]:
    try:
        with ctx.session.begin_nested():
            placed, skipped = reorder_usual_at_door(
                ctx.session, resident_id=ctx.resident_id, placed_by=ctx.actor, channel="line", now=ctx.now,
                idempotency_key=f"line:{ctx.event_id}", into=into, repeat_ok=repeat_ok)
    except DomainError as exc:
        if exc.code == "repeat_order":
            return repeat_question(ctx, exc.message, m.postback("はい", "usualok", into=into, rep=1))
        return menu(ctx, error_text(exc))
    order = placed.order
    head = (f"いつものご注文を注文番号 {order.id} に追加しました。配達料は1回分のままです。" if placed.added
            else f"いつものご注文を承りました。注文番号 {order.id}")
    lines = [head,
             f"お届け：{date_ja(order.delivery_date)} {order.window_start}〜{order.window_end}",
             f"合計 {yen(order.total_yen)}"] + _skipped_notes(skipped)
    return menu(ctx, "\n".join(lines))


def _eta(ctx: Ctx, view: Any) -> str:
    """On the delivery day: the planned arrival from today's active plan, if any — the same window as
    the ETA notice the resident was sent (a little before to half an hour after, inside their window)."""
    if view.delivery_date != ctx.now.astimezone(JST).date():
        return ""
    # the same read as the phone line's ETA call and the office's order page
    stop = order_stop(ctx.session, order_id=view.order_id, delivery_date=view.delivery_date)
    if stop is None:
        return ""
    if stop.status == "done":
        return "お届けしました。"
    early, late = eta_window(stop.eta, view)
    return f"今日の到着予定：{early}〜{late}ごろ"


def status(ctx: Ctx, intro: str = "") -> list[Message]:
    """Open and recent orders, newest first; change / cancel buttons while still possible. ``intro``
    says what was understood (「ご注文の取り消しですね。」) when the resident typed it."""
    views = list(order_status(ctx.session, resident_id=ctx.resident_id, now=ctx.now))
    back = remember_back(ctx, "menu")
    if not views:
        return [m.text((intro.split("。")[0] + "。\n" if intro else "") + "いまお届け予定のご注文はありません。",
                       quick=m.quick_reply([m.postback("注文する", "shops")], back=back))]
    ctx.state["step"] = "status"
    bubbles = []
    for v in views[: m.MAX_BUBBLES]:
        oid = v.order_id
        lines = [v.status_label, f"お届け：{v.delivery_date_label} {v.window_label}（{v.window_start}〜{v.window_end}）"]
        eta = _eta(ctx, v)
        if eta:
            lines.append(eta)
        for line in v.lines[:8]:
            lines.append(f"・{line.name} {line.quantity}{line.unit}")
        lines.append(f"合計 {yen(v.total_yen)}")
        buttons = []
        if v.changeable:
            buttons = [m.postback("内容を変える", "change", o=oid), m.postback("取り消す", "cancel", o=oid)]
        bubbles.append(m.bubble(f"注文番号 {oid}", lines, buttons))
    flex = m.flex("ご注文の確認", bubbles, quick=m.quick_reply([], back=back))
    return [m.text(intro), flex] if intro else [flex]


def ask_cancel(ctx: Ctx, order_id: int) -> list[Message]:
    ctx.state["step"] = "cancel"
    back = remember_back(ctx, "status")
    return [m.text(f"注文番号{order_id}を取り消しますか？",
                   quick=m.quick_reply([m.postback("はい、取り消す", "cancelok", o=order_id),
                                        m.postback("いいえ", "status")], back=back))]


def cancel(ctx: Ctx, order_id: int) -> list[Message]:
    try:
        with ctx.session.begin_nested():
            result = cancel_order(ctx.session, order_id=order_id, actor=ctx.actor, channel="line",
                                  now=ctx.now, resident_id=ctx.resident_id)
    except DomainError as exc:
        return menu(ctx, error_text(exc))
    if result.already_cancelled:
        return menu(ctx, f"注文番号{order_id}は、すでに取り消し済みです。")
    return menu(ctx, f"注文番号{order_id}を取り消しました。")


def change(ctx: Ctx, order_id: int) -> list[Message]:
    """Put the order's lines into the basket; confirming then calls ``change_order``."""
    try:
        order = get_order(ctx.session, order_id=order_id, resident_id=ctx.resident_id)
    except DomainError as exc:
        return menu(ctx, error_text(exc))
    ctx.set_basket([[line.product_id, line.quantity] for line in order.lines])
    ctx.state["changing"] = order.id
    return show_basket(ctx, "数を変えるときは「大根は1本に」「大根いらない」「牛乳もう1本」のように送ってください。")
