"""Each step of the phone menu: what is asked (``PROMPTS``) and what an answer does (``HANDLERS``).

Prompts are rebuilt from the stored state every time (repeat, retry, after a restart), so the state
holds only ids and numbers: the step, the basket as [product id, quantity] pairs, the ids on the
list the caller is hearing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from sqlalchemy import select
from twilio.twiml.voice_response import VoiceResponse

from orders.errors import OrderError
from orders.ja_text import QuantityError, extract_items, parse_quantity
from orders.service import LineItem, Quote, cancel_order, order_status, place_order, quote_order, usual_basket
from orders.models import OrderStatus
from residents.models import VoiceMessage
from shops.models import Product, Shop
from shops.service import list_products, list_shops
from voice import prompts as P
from voice import twiml
from voice.flow import Call, Turn, common, failed, go, render, to_operator

PAGE = 7          # items per spoken list: keys 1–7, 8 = next page, 9 = repeat, 0 = operator
MENU_HINTS = ("いつもの", "注文", "確認", "取り消し", "オペレーター", "もう一度", "はい", "いいえ")


@dataclass
class Prompt:
    sentences: list[str]
    hints: tuple[str, ...] = MENU_HINTS
    num_digits: int | None = 1
    finish_on_key: str | None = None
    before: list[str] = field(default_factory=list)
    end_call: bool = False


def _items(pairs: list[list[int]]) -> list[LineItem]:
    return [LineItem(int(pid), int(qty)) for pid, qty in pairs]


def _readback(call: Call, quote: Quote) -> list[str]:
    lines = [P.line_sentence(line.name, line.quantity, line.unit, line.line_total_yen) for line in quote.lines]
    return lines + [f"配達料{P.yen(quote.fee_yen)}を合わせて、合計{P.yen(quote.total_yen)}です。",
                    P.delivery_sentence(quote.delivery_date, quote.window.label, quote.window.start,
                                        quote.window.end)]


def _place(call: Call, pairs: list[list[int]]) -> VoiceResponse:
    """The caller pressed 1 after hearing the read-back: place exactly what was read."""
    rid = call.resident_id
    assert rid is not None
    try:
        order = place_order(call.session, resident_id=rid, items=_items(pairs), placed_by=f"resident:{rid}",
                            channel="phone", now=call.now,
                            idempotency_key=f"call:{call.call_sid}:{call.state['seq'] - 1}")
    except OrderError as error:
        return go(call, "menu", before=[error.message, "ご注文は確定していません。"])
    call.state["basket"] = []
    call.state["last_order_id"] = order.id
    done = [f"ご注文を承りました。注文番号は{order.id}番です。"]
    return go(call, "placed", before=done)


# --- unknown caller ------------------------------------------------------------------------------

def prompt_unknown(call: Call) -> Prompt:
    return Prompt([P.UNKNOWN_CALLER])


def on_unknown(call: Call, turn: Turn) -> VoiceResponse:
    if (shared := common(call, turn)) is not None:
        return shared
    if turn.key() == "1" or P.says_yes(turn.speech):
        return start_recording(call, purpose="registration")
    return failed(call, turn)


def start_recording(call: Call, *, purpose: str) -> VoiceResponse:
    call.state.update(step="recording", purpose=purpose, tries=0)
    text = P.RECORD_REGISTRATION if purpose == "registration" else P.RECORD_CALLBACK
    return twiml.record(call.style, call.url("/voice/recording"), [text])


def on_recording(call: Call, turn: Turn) -> VoiceResponse:
    url = turn.form.get("RecordingUrl") or None
    seconds = turn.form.get("RecordingDuration")
    existing = call.session.scalars(select(VoiceMessage).where(VoiceMessage.call_sid == call.call_sid)).one_or_none()
    if existing is None:
        existing = VoiceMessage(call_sid=call.call_sid, from_number=str(call.state.get("from") or "")[:32],
                                purpose=str(call.state.get("purpose") or "registration"), created_at=call.now)
        call.session.add(existing)
    existing.recording_url = url
    existing.recording_seconds = int(seconds) if seconds and seconds.isdigit() else None
    call.state["step"] = "ended"
    return twiml.goodbye(call.style, [P.RECORDED if url else P.NO_RECORDING])


def on_after_dial(call: Call, turn: Turn) -> VoiceResponse:
    status = turn.form.get("DialCallStatus", "")
    if status in ("completed", "answered"):
        call.state["step"] = "ended"
        return twiml.goodbye(call.style, [P.GOODBYE])
    return start_recording(call, purpose="callback" if call.resident_id else "registration")


# --- main menu -----------------------------------------------------------------------------------

def prompt_menu(call: Call) -> Prompt:
    return Prompt([P.MENU])


def on_menu(call: Call, turn: Turn) -> VoiceResponse:
    if (shared := common(call, turn)) is not None:
        return shared
    key, speech = turn.key(), P.normalise(turn.speech)
    if key == "1" or "いつも" in speech:
        return go(call, "usual")
    if key == "2" or (speech and "注文" in speech and "確認" not in speech):
        return go(call, "shop", basket=[], page=0)
    if key == "3" or any(w in speech for w in ("確認", "取り消", "とりけし", "きゃんせる")):
        return go(call, "orders", order_index=0)
    return failed(call, turn)


# --- いつもの ---------------------------------------------------------------------------------------

def prompt_usual(call: Call) -> Prompt:
    assert call.resident_id is not None
    basket = usual_basket(call.session, resident_id=call.resident_id, now=call.now)
    skipped = [f"{s.name}は{s.reason}。" for s in basket.skipped]
    if basket.quote is None:
        call.state["step"] = "menu"
        lead = ["いつものご注文として読み上げられる品物がありません。"] if basket.skipped else \
            ["これまでのご注文が見つかりませんでした。新しいご注文は2を押してください。"]
        return Prompt([P.MENU], before=skipped + lead)
    call.state["usual"] = [[i.product_id, i.quantity] for i in basket.items]
    return Prompt(["このとおりご注文するには1を、品物を変えるには2を押してください。"],
                  before=["いつものご注文です。"] + skipped + _readback(call, basket.quote))


def on_usual(call: Call, turn: Turn) -> VoiceResponse:
    if (shared := common(call, turn)) is not None:
        return shared
    if turn.key() == "1" or P.says_yes(turn.speech):
        return _place(call, call.state.get("usual") or [])
    if turn.key() == "2" or P.says_no(turn.speech):
        return go(call, "edit", basket=list(call.state.get("usual") or []))
    return failed(call, turn)


# --- choosing items ------------------------------------------------------------------------------

def _shops(call: Call) -> list[Shop]:
    return [shop for shop in list_shops(call.session) if list_products(call.session, shop_id=shop.id)][:8]


def _all_products(call: Call) -> list[Product]:
    return list_products(call.session)


def prompt_shop(call: Call) -> Prompt:
    shops = _shops(call)
    call.state["choices"] = [shop.id for shop in shops]
    hints = tuple(s.name for s in shops) + tuple(p.name for p in _all_products(call)) + MENU_HINTS
    return Prompt(["お店を選んでください。"] + P.numbered([s.name for s in shops])
                  + ["品物の名前と数を、そのままお話しいただいてもかまいません。"], hints=hints)


def _spoken_items(call: Call, turn: Turn, products: list[Product]) -> VoiceResponse | None:
    """「大根を2本」: add what was understood; ask the number for anything said without one."""
    try:
        items, _ = extract_items(turn.speech, products)
    except QuantityError as error:
        return failed(call, turn, reason=[error.message])
    if not items:
        return None
    pending = [item.product.id for item in items if not item.quantity_stated]
    added = [(item.product, item.quantity) for item in items if item.quantity_stated]
    return _add(call, added, pending)


def _add(call: Call, added: list[tuple[Product, int]], pending: list[int]) -> VoiceResponse:
    basket: list[list[int]] = [list(p) for p in call.state.get("basket") or []]
    for product, quantity in added:
        for pair in basket:
            if pair[0] == product.id:
                pair[1] += quantity
                break
        else:
            basket.append([product.id, quantity])
    if basket:
        try:
            quote_order(call.session, resident_id=call.resident_id, items=_items(basket), now=call.now)
        except OrderError as error:
            return go(call, "item" if call.state.get("shop_id") else "shop", before=[error.message])
    call.state["basket"] = basket
    said = [f"{product.name}を{quantity}{product.unit}、かごに入れました。" for product, quantity in added]
    if pending:
        return go(call, "qty", pending=pending, before=said)
    return go(call, "more", before=said)


def on_shop(call: Call, turn: Turn) -> VoiceResponse:
    if (shared := common(call, turn)) is not None:
        return shared
    choices = call.state.get("choices") or []
    key = turn.key()
    if key.isdigit() and 1 <= int(key) <= len(choices):
        return go(call, "item", shop_id=choices[int(key) - 1], page=0)
    if turn.speech:
        for shop in _shops(call):
            if P.normalise(shop.name) in P.normalise(turn.speech) or P.normalise(shop.kana) in P.normalise(turn.speech):
                return go(call, "item", shop_id=shop.id, page=0)
        spoken = _spoken_items(call, turn, _all_products(call))
        if spoken is not None:
            return spoken
    return failed(call, turn)


def _shop_products(call: Call) -> list[Product]:
    return list_products(call.session, shop_id=call.state.get("shop_id"))


def prompt_item(call: Call) -> Prompt:
    products = _shop_products(call)
    page = int(call.state.get("page") or 0)
    if page * PAGE >= len(products):
        page = call.state["page"] = 0
    shown = products[page * PAGE:(page + 1) * PAGE]
    call.state["choices"] = [p.id for p in shown]
    options = P.numbered([f"{p.name}、1{p.unit}{P.yen(p.price_yen)}" for p in shown])
    more = ["ほかの品物を聞くには8。"] if len(products) > (page + 1) * PAGE else []
    return Prompt(["品物の番号を押すか、品物の名前と数をお話しください。"] + options + more,
                  hints=tuple(p.name for p in products) + tuple(p.kana for p in products) + MENU_HINTS)


def on_item(call: Call, turn: Turn) -> VoiceResponse:
    if (shared := common(call, turn)) is not None:
        return shared
    choices = call.state.get("choices") or []
    key = turn.key()
    if key == "8" and len(_shop_products(call)) > (int(call.state.get("page") or 0) + 1) * PAGE:
        return go(call, "item", page=int(call.state.get("page") or 0) + 1)
    if key.isdigit() and 1 <= int(key) <= len(choices):
        return go(call, "qty", pending=[choices[int(key) - 1]])
    if turn.speech:
        spoken = _spoken_items(call, turn, _shop_products(call) + _all_products(call))
        if spoken is not None:
            return spoken
    return failed(call, turn)


def _pending_product(call: Call) -> Product | None:
    pending = call.state.get("pending") or []
    return call.session.get(Product, pending[0]) if pending else None


def prompt_qty(call: Call) -> Prompt:
    product = _pending_product(call)
    assert product is not None
    return Prompt([f"{product.name}ですね。いくつにしますか。数を押して、最後にシャープを押してください。"
                   f"「2{product.unit}」のようにお話しいただいてもかまいません。"],
                  num_digits=2, finish_on_key="#", hints=("1つ", "2つ", "3つ", f"2{product.unit}") + MENU_HINTS)


def on_qty(call: Call, turn: Turn) -> VoiceResponse:
    if (shared := common(call, turn)) is not None:
        return shared
    product = _pending_product(call)
    if product is None:
        return go(call, "more")
    try:
        quantity = parse_quantity(turn.digits or turn.speech)
    except QuantityError as error:
        return failed(call, turn, reason=None if turn.empty else [error.message])
    rest = list(call.state.get("pending") or [])[1:]
    call.state["pending"] = rest
    return _add(call, [(product, quantity)], rest)


def prompt_more(call: Call) -> Prompt:
    return Prompt(["ほかの品物も注文するには1を、ご注文の内容を確かめるには2を押してください。"])


def on_more(call: Call, turn: Turn) -> VoiceResponse:
    if (shared := common(call, turn)) is not None:
        return shared
    if turn.key() == "1":
        return go(call, "item" if call.state.get("shop_id") else "shop", page=0)
    if turn.key() == "2" or P.says_yes(turn.speech):
        return go(call, "review")
    if turn.speech:
        spoken = _spoken_items(call, turn, _all_products(call))
        if spoken is not None:
            return spoken
    return failed(call, turn)


# --- read-back, change, confirm ------------------------------------------------------------------

def prompt_review(call: Call) -> Prompt:
    basket = call.state.get("basket") or []
    if not basket:
        call.state["step"] = "shop"
        return prompt_shop(call)
    quote = quote_order(call.session, resident_id=call.resident_id, items=_items(basket), now=call.now)
    return Prompt(["このとおりご注文するには1を、直すには2を押してください。"],
                  before=["ご注文の内容です。"] + _readback(call, quote))


def on_review(call: Call, turn: Turn) -> VoiceResponse:
    if (shared := common(call, turn)) is not None:
        return shared
    if turn.key() == "1" or P.says_yes(turn.speech):
        return _place(call, call.state.get("basket") or [])
    if turn.key() == "2" or P.says_no(turn.speech):
        return go(call, "edit")
    return failed(call, turn)


def prompt_edit(call: Call) -> Prompt:
    return Prompt(["品物を減らしたり取り消したりするには1を、品物を足すには2を、はじめからやり直すには3を、"
                   "今の内容で確かめるには4を押してください。"])


def on_edit(call: Call, turn: Turn) -> VoiceResponse:
    if (shared := common(call, turn)) is not None:
        return shared
    key = turn.key()
    if key == "1":
        return go(call, "remove")
    if key == "2":
        return go(call, "shop", page=0)
    if key == "3":
        return go(call, "shop", basket=[], page=0, shop_id=None)
    if key == "4":
        return go(call, "review")
    return failed(call, turn)


def prompt_remove(call: Call) -> Prompt:
    basket = call.state.get("basket") or []
    names = []
    for pid, qty in basket[:8]:
        product = call.session.get(Product, pid)
        names.append(f"{product.name if product else '品物'}、{qty}{product.unit if product else ''}")
    return Prompt(["取り消す品物の番号を押してください。"] + P.numbered(names))


def on_remove(call: Call, turn: Turn) -> VoiceResponse:
    if (shared := common(call, turn)) is not None:
        return shared
    basket = list(call.state.get("basket") or [])
    key = turn.key()
    if key.isdigit() and 1 <= int(key) <= min(len(basket), 8):
        pid, _ = basket.pop(int(key) - 1)
        product = call.session.get(Product, pid)
        said = [f"{product.name if product else '品物'}を取り消しました。"]
        if not basket:
            return go(call, "shop", basket=[], page=0, before=said + ["かごが空になりました。"])
        return go(call, "review", basket=basket, before=said)
    return failed(call, turn)


def prompt_placed(call: Call) -> Prompt:
    return Prompt(["確認のショートメールやラインをお送りします。メニューに戻るには1を押してください。"
                   "ご用がお済みでしたら、このままお切りください。"])


def on_placed(call: Call, turn: Turn) -> VoiceResponse:
    if turn.key() == "0" or P.wants_operator(turn.speech):
        return to_operator(call)
    if turn.key() == "1":
        return go(call, "menu")
    call.state["step"] = "ended"
    return twiml.goodbye(call.style, [P.GOODBYE])


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
    items = "、".join(f"{line.name}{line.quantity}{line.unit}" for line in view.lines[:5])
    if len(view.lines) > 5:
        items += f"、ほか{len(view.lines) - 5}点"
    about = [f"{P.day_ja(view.delivery_date)}の{view.window_label}にお届けのご注文です。",
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
        return go(call, "menu", before=["ご注文を取り消しました。"])
    if turn.key() == "2" or P.says_no(turn.speech):
        return go(call, "orders", before=["取り消しはしませんでした。"])
    return failed(call, turn)


def prompt_ended(call: Call) -> Prompt:
    return Prompt([P.GOODBYE], end_call=True)


def on_ended(call: Call, turn: Turn) -> VoiceResponse:
    return twiml.goodbye(call.style, [P.GOODBYE])


PROMPTS: dict[str, Callable[[Call], Prompt]] = {
    "unknown": prompt_unknown, "menu": prompt_menu, "usual": prompt_usual, "shop": prompt_shop,
    "item": prompt_item, "qty": prompt_qty, "more": prompt_more, "review": prompt_review,
    "edit": prompt_edit, "remove": prompt_remove, "placed": prompt_placed, "orders": prompt_orders,
    "cancel_confirm": prompt_cancel_confirm, "ended": prompt_ended,
}
HANDLERS: dict[str, Callable[[Call, Turn], VoiceResponse]] = {
    "unknown": on_unknown, "menu": on_menu, "usual": on_usual, "shop": on_shop, "item": on_item,
    "qty": on_qty, "more": on_more, "review": on_review, "edit": on_edit, "remove": on_remove,
    "placed": on_placed, "orders": on_orders, "cancel_confirm": on_cancel_confirm,
    "recording": on_recording, "after_dial": on_after_dial, "ended": on_ended,
}
