"""「注文の確認・取り消し」: hear each upcoming order, cancel one before its cutoff."""

from __future__ import annotations

from typing import Any

from twilio.twiml.voice_response import VoiceResponse

from delivery.door_orders import cancel_order
from orders.errors import OrderError
from orders.models import OrderStatus
from orders.service import order_status
from voice import prompts as P
from voice.call import Call, Turn, common, failed, go
from voice.steps.common import Prompt

# --- 確認・取り消し -----------------------------------------------------------------------------------

def _open_orders(call: Call) -> list[Any]:
    assert call.resident_id is not None
    views = order_status(call.session, resident_id=call.resident_id, now=call.now)
    return [v for v in views if v.status is not OrderStatus.CANCELLED]


def prompt_orders(call: Call) -> Prompt:
    views = _open_orders(call)
    index = int(call.state.get("order_index") or 0)
    if not views or index >= len(views):
        call.state["step"] = "menu"
        return Prompt([P.MENU], before=["これからお届けするご注文はありません。" if not views
                                        else "ご注文は以上です。"])
    view = views[index]
    call.state["order_id"] = view.order_id
    items = "、".join(f"{P.spoken_name(line.name)}{line.quantity}{line.unit}" for line in view.lines[:5])
    if len(view.lines) > 5:
        items += f"、ほか{len(view.lines) - 5}点"
    # The number first: two similar orders can only be told apart by it (and cancelling names it).
    about = [f"注文番号{view.order_id}番。{P.day_ja(view.delivery_date)}の{view.window_label}にお届けのご注文です。",
             f"{items}。合計{P.yen(view.total_yen)}。{view.status_label}です。"]
    options = (["このご注文を取り消すには1を、"] if view.changeable else
               ["このご注文は、もう取り消しや変更ができません。"])
    if index + 1 < len(views):
        options.append("次のご注文を聞くには2を、")
    options.append("メニューに戻るには3を押してください。")
    return Prompt(options, before=about)


def on_orders(call: Call, turn: Turn) -> VoiceResponse:
    if (shared := common(call, turn)) is not None:
        return shared
    key = turn.key()
    if key == "1" or ("取り消" in turn.speech or "とりけし" in P.normalise(turn.speech)):
        return go(call, "cancel_confirm")
    if key == "2":
        return go(call, "orders", order_index=int(call.state.get("order_index") or 0) + 1)
    if key == "3":
        return go(call, "menu")
    return failed(call, turn)


def prompt_cancel_confirm(call: Call) -> Prompt:
    return Prompt([f"注文番号{call.state.get('order_id')}番のご注文を取り消します。"
                   "よろしければ1を、やめるには2を押してください。"])


def on_cancel_confirm(call: Call, turn: Turn) -> VoiceResponse:
    if (shared := common(call, turn)) is not None:
        return shared
    if turn.key() == "1" or P.says_yes(turn.speech):
        rid = call.resident_id
        try:
            cancel_order(call.session, order_id=int(call.state["order_id"]), actor=f"resident:{rid}",
                         channel="phone", now=call.now, resident_id=rid)
        except OrderError as error:
            return go(call, "menu", before=[error.message])
        return go(call, "menu", before=[f"注文番号{call.state['order_id']}番のご注文を取り消しました。"])
    if turn.key() == "2" or P.says_no(turn.speech):
        return go(call, "orders", before=["取り消しはしませんでした。"])
    return failed(call, turn)
