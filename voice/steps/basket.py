"""Choosing items (by shop, by number or by saying 「大根を2本」), the read-back, and changing it."""

from __future__ import annotations

from collections import Counter

from twilio.twiml.voice_response import VoiceResponse

from orders.errors import OrderError
from orders.service import quote_for_door, quote_order
from shops.models import Product
from shops.service import list_categories, list_products, list_shops, product_by_id
from understanding import Item, QuantityError, parse_quantity
from voice import prompts as P
from voice.call import Call, Turn, common, failed, go
from voice.steps import speech
from voice.steps.common import (MENU_HINTS, NEXT_KEYS, PAGE, Prompt, catalogue_names, item_name, line_items, place,
                                readback, shared_names)

# --- choosing items ------------------------------------------------------------------------------

def all_products(call: Call) -> list[Product]:
    return list_products(call.session)


def _page(call: Call, key: str, total: int) -> list[int] | None:
    """The slice of a spoken list on the current page (4 per page; 9 = the next ones)."""
    page = int(call.state.get(key) or 0)
    if page * PAGE >= total:
        page = call.state[key] = 0
    return list(range(page * PAGE, min(total, (page + 1) * PAGE)))


def _has_next(call: Call, key: str, total: int) -> bool:
    return total > (int(call.state.get(key) or 0) + 1) * PAGE


def prompt_shop(call: Call) -> Prompt:
    """What to browse: a kind of item (野菜, 魚…). A shop's name or an item can be said instead."""
    categories = list_categories(call.session)
    shown = [categories[i] for i in _page(call, "cat_page", len(categories)) or []]
    call.state["choices"] = shown
    more = ["ほかの種類は9。"] if _has_next(call, "cat_page", len(categories)) else []
    hints = (tuple(categories) + tuple(s.name for s in list_shops(call.session))
             + tuple(catalogue_names(call)) + MENU_HINTS)
    return Prompt(["品物の種類を選んでください。"] + P.numbered(shown) + more
                  + ["品物の名前と数や、お店の名前を、そのままお話しいただいてもかまいません。"], hints=hints)


def add_spoken_items(call: Call, turn: Turn, products: list[Product] | None = None) -> VoiceResponse | None:
    """「大根を2本」「お米」「大根いらない」: what the understanding layer made of it (``speech``)."""
    return speech.respond(call, turn)


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
            quote_order(call.session, resident_id=call.resident_id, items=line_items(basket), now=call.now)
        except OrderError as error:
            return go(call, _browsing(call), before=[error.message])
    call.state["basket"] = basket
    shared = shared_names(call) if added else set()
    said = [f"{item_name(call, product.name, product.shop_id, shared)}を{quantity}{product.unit}、かごに入れました。"
            for product, quantity in added]
    if pending:
        return go(call, "qty", pending=pending, before=said)
    return go(call, "more", before=said)


def on_shop(call: Call, turn: Turn) -> VoiceResponse:
    key = turn.key()
    # Before the shared keys: with more to hear, 9 is 「ほかの種類」, not 「もう一度」.
    if key in NEXT_KEYS and _has_next(call, "cat_page", len(list_categories(call.session))):
        return go(call, "shop", cat_page=int(call.state.get("cat_page") or 0) + 1)
    if (shared := common(call, turn)) is not None:
        return shared
    choices = call.state.get("choices") or []
    if key.isdigit() and 1 <= int(key) <= len(choices):
        return go(call, "item", category=choices[int(key) - 1], shop_id=None, page=0)
    if turn.speech:
        said = P.normalise(turn.speech)
        for category in list_categories(call.session):
            if P.normalise(category) == said.rstrip("をがですください"):
                return go(call, "item", category=category, shop_id=None, page=0)
        for shop in list_shops(call.session):
            if P.normalise(shop.name) in said or P.normalise(shop.kana) in said:
                return go(call, "item", shop_id=shop.id, category=None, page=0)
        spoken = add_spoken_items(call, turn, all_products(call))
        if spoken is not None:
            return spoken
        # Not a kind, a shop or an item the layer knows: say what was heard, offer the nearest.
        return speech.offer_nearest(call, turn, [turn.speech])
    return failed(call, turn)


def _browsing(call: Call) -> str:
    """Back to the list the caller was in, or to the kinds of item."""
    return "item" if call.state.get("shop_id") or call.state.get("category") else "shop"


def _listed_products(call: Call) -> list[Product]:
    # Sold out (stock 0) is not read out: choosing it would only end in 「売り切れです」.
    return [p for p in list_products(call.session, shop_id=call.state.get("shop_id"),
                                     category=call.state.get("category")) if p.stock is None or p.stock > 0]


def _label(product: Product, same_name: bool) -> str:
    # Two shops selling 大根 in one list: say whose (「ながい朝市の大根」), or the caller cannot tell
    # the keys apart.
    name = P.spoken_name(product.name, product.shop.name if same_name else None)
    return f"{name}、1{product.unit}{P.yen(product.price_yen)}"


def _names_in(products: list[Product]) -> Counter[str]:
    return Counter(p.name for p in products)


def prompt_item(call: Call) -> Prompt:
    products = _listed_products(call)
    shown = [products[i] for i in _page(call, "page", len(products)) or []]
    call.state["choices"] = [p.id for p in shown]
    names = _names_in(products)    # the whole list, not the page: 大根 may be on page 1 and page 2
    options = P.numbered([_label(p, names[p.name] > 1) for p in shown])
    more = ["ほかの商品は9。"] if _has_next(call, "page", len(products)) else []
    return Prompt(["品物の番号を押すか、品物の名前と数をお話しください。"] + options + more,
                  hints=tuple(p.name for p in products) + tuple(p.kana for p in products) + MENU_HINTS)


def on_item(call: Call, turn: Turn) -> VoiceResponse:
    key = turn.key()
    # Before the shared keys: with more to hear, 9 is 「ほかの商品」, not 「もう一度」.
    if key in NEXT_KEYS and _has_next(call, "page", len(_listed_products(call))):
        return go(call, "item", page=int(call.state.get("page") or 0) + 1)
    if (shared := common(call, turn)) is not None:
        return shared
    choices = call.state.get("choices") or []
    if key.isdigit() and 1 <= int(key) <= len(choices):
        return go(call, "qty", pending=[choices[int(key) - 1]])
    if turn.speech:
        spoken = add_spoken_items(call, turn, _listed_products(call) + all_products(call))
        if spoken is not None:
            return spoken
        return speech.offer_nearest(call, turn, [turn.speech])
    return failed(call, turn)


def _pending_product(call: Call) -> Product | None:
    pending = call.state.get("pending") or []
    return product_by_id(call.session, pending[0]) if pending else None


def prompt_qty(call: Call) -> Prompt:
    product = _pending_product(call)
    assert product is not None
    return Prompt([f"{P.spoken_name(product.name)}ですね。いくつにしますか。数を押して、最後にシャープを押してください。"
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
        # Not a number: perhaps something else altogether (「やっぱりいつもの」).
        spoken = speech.respond(call, turn) if error.code == "quantity_unclear" and turn.speech else None
        if spoken is not None:
            return spoken
        return failed(call, turn, reason=None if turn.empty else [error.message])
    rest = list(call.state.get("pending") or [])[1:]
    call.state["pending"] = rest
    if not rest:
        # The answer to the one question about this product: on to what was said with it, if anything waits.
        going_on = speech.after_answer(call, turn, Item(product.id, product.name, product.unit, quantity))
        if going_on is not None:
            return going_on
    return _add(call, [(product, quantity)], rest)


def prompt_more(call: Call) -> Prompt:
    if _browsing(call) == "item":
        # 1 goes back to the same list; a keypad-only caller also needs a way to another kind (果物).
        return Prompt(["ほかの品物も注文するには1を、ご注文の内容を確かめるには2を、"
                       "ほかの種類から選ぶには3を押してください。"])
    return Prompt(["ほかの品物も注文するには1を、ご注文の内容を確かめるには2を押してください。"])


def on_more(call: Call, turn: Turn) -> VoiceResponse:
    if (shared := common(call, turn)) is not None:
        return shared
    if turn.key() == "1":
        return go(call, _browsing(call), page=0)
    if turn.key() == "3" and _browsing(call) == "item":
        return go(call, "shop", category=None, shop_id=None, cat_page=0)
    # 「大根を2本お願いします」 has お願い in it: what was said is read before a bare yes.
    spoken = speech.respond(call, turn) if not turn.digits else None
    if spoken is not None:
        return spoken
    if turn.key() == "2" or P.says_yes(turn.speech):
        return go(call, "review")
    return failed(call, turn)


# --- read-back, change, confirm ------------------------------------------------------------------

def prompt_review(call: Call) -> Prompt:
    basket = call.state.get("basket") or []
    if not basket:
        call.state["step"] = "shop"
        return prompt_shop(call)
    try:
        quote, into = quote_for_door(call.session, resident_id=call.resident_id, items=line_items(basket),
                                     now=call.now)
    except OrderError as error:
        # Sold out since it went into the basket, or no delivery day: say so and offer to change it.
        call.state["step"] = "edit"
        edit = prompt_edit(call)
        edit.before = [error.message] + edit.before
        return edit
    call.state["into"] = into
    verb = "ご注文" if into is None else "追加"
    return Prompt([f"このとおり{verb}するには1を、直すには2を押してください。"],
                  before=["ご注文の内容です。"] + readback(call, quote, into))


def on_review(call: Call, turn: Turn) -> VoiceResponse:
    if (shared := common(call, turn)) is not None:
        return shared
    if turn.key() in ("1", "2"):
        return place(call, call.state.get("basket") or []) if turn.key() == "1" else go(call, "edit")
    # 「大根は1本にして」 while hearing the read-back: change it and read it again.
    spoken = speech.respond(call, turn, items_only=True)
    if spoken is not None:
        return spoken
    if P.says_yes(turn.speech):
        return place(call, call.state.get("basket") or [])
    if P.says_no(turn.speech):
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
        return go(call, "remove", rm_page=0)
    if key == "2":
        return go(call, "shop", page=0, cat_page=0)
    if key == "3":
        return go(call, "shop", basket=[], page=0, cat_page=0, shop_id=None, category=None)
    if key == "4":
        return go(call, "review")
    spoken = speech.respond(call, turn)
    return spoken if spoken is not None else failed(call, turn)


def prompt_remove(call: Call) -> Prompt:
    basket = call.state.get("basket") or []
    shown = _page(call, "rm_page", len(basket)) or []
    names = []
    for index in shown:
        pid, qty = basket[index]
        product = product_by_id(call.session, pid)
        names.append(f"{P.spoken_name(product.name) if product else '品物'}、{qty}{product.unit if product else ''}")
    more = ["ほかの品物は9。"] if _has_next(call, "rm_page", len(basket)) else []
    return Prompt(["取り消す品物の番号を押してください。"] + P.numbered(names) + more)


def on_remove(call: Call, turn: Turn) -> VoiceResponse:
    basket = list(call.state.get("basket") or [])
    key = turn.key()
    if key in NEXT_KEYS and _has_next(call, "rm_page", len(basket)):
        return go(call, "remove", rm_page=int(call.state.get("rm_page") or 0) + 1)
    if (shared := common(call, turn)) is not None:
        return shared
    shown = _page(call, "rm_page", len(basket)) or []
    if key.isdigit() and 1 <= int(key) <= len(shown):
        pid, _ = basket.pop(shown[int(key) - 1])
        product = product_by_id(call.session, pid)
        said = [f"{P.spoken_name(product.name) if product else '品物'}を取り消しました。"]
        if not basket:
            return go(call, "shop", basket=[], page=0, rm_page=0, before=said + ["かごが空になりました。"])
        return go(call, "review", basket=basket, rm_page=0, before=said)
    return failed(call, turn)
