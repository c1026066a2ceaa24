"""Screens every role shares: the main menu, help (a human's phone number), yen and date wording."""

from __future__ import annotations

from datetime import date
from typing import Any

from bot import messages as m
from bot.messages import Message
from bot.conversation.state import Ctx

WEEKDAYS = "月火水木金土日"


def yen(amount: int) -> str:
    return f"{amount:,}円"


def date_ja(d: date) -> str:
    return f"{d.month}月{d.day}日（{WEEKDAYS[d.weekday()]}）"


def error_text(exc: Exception) -> str:
    return getattr(exc, "message", None) or "うまくいきませんでした。もう一度お試しください。"


def remember_back(ctx: Ctx, action: str, **params: Any) -> m.Action:
    """The 戻る button of the current screen; typing 「戻る」 goes to the same place."""
    ctx.state["back"] = m.data(action, **params)
    return m.postback(m.BACK, action, **params)


def menu(ctx: Ctx, intro: str = "") -> list[Message]:
    """The main menu (the same four choices as the rich menu, plus the basket when it has items)."""
    ctx.state.pop("step", None)
    ctx.state.pop("back", None)
    whom = ctx.extra.get("for_name")
    lines = [intro] if intro else []
    if whom:
        lines.append(f"{whom}さんのご注文をお手伝いします。")
    lines.append("ご用件を下のボタンから選んでください。")
    actions: list[Any] = [m.postback("注文する", "shops"), m.postback("いつもの", "usual"),
                          m.postback("注文の確認", "status")]
    if ctx.basket():
        actions.append(m.postback("かごを見る", "basket"))
    if ctx.role == "family" and ctx.extra.get("family_count", 0) > 1:
        actions.append(m.postback("ほかの方に切り替え", "who"))
    actions.append(m.postback("電話で相談", "help"))
    return [m.text("\n".join(lines), quick=m.quick_reply(actions, start_over=False))]


def help_(ctx: Ctx) -> list[Message]:
    """A person to talk to, at any point."""
    phone = ctx.config.get("COORDINATOR_PHONE") or ""
    body = (f"担当者がお電話でお手伝いします。\n📞 {phone}\n（平日 9時〜17時）\n"
            "続けるときは「最初から」を押してください。")
    if ctx.role == "guest":
        # Not registered yet: the next step is registering (or being phoned), not ordering.
        return [m.text(body, quick=m.quick_reply([m.postback("登録する", "reg"),
                                                  m.postback("役場から電話してもらう", "callme")]))]
    return [m.text(body, quick=m.quick_reply([m.postback("注文する", "shops")]))]


def not_understood(ctx: Ctx) -> list[Message]:
    back = ctx.state.get("back")
    actions: list[Any] = [m.postback("電話で相談", "help")]
    if back:
        actions.insert(0, m.postback_with_data(m.BACK, back))
    elif ctx.role in ("resident", "family"):
        # Nothing under way: offer the main choices right here instead of a dead end.
        actions[:0] = [m.postback("注文する", "shops"), m.postback("いつもの", "usual"),
                       m.postback("注文の確認", "status")]
    return [m.text("すみません、よく分かりませんでした。下のボタンから選んでください。",
                   quick=m.quick_reply(actions))]
