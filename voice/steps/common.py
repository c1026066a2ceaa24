"""What every step shares: the prompt shape, the basket as order lines, the read-back and placing."""

from __future__ import annotations

from dataclasses import dataclass, field

from twilio.twiml.voice_response import VoiceResponse

from orders.errors import OrderError
from orders.service import LineItem, Quote, order_or_add
from shops.names import product_names_on_sale, shared_product_names
from shops.service import shop_by_id
from voice import prompts as P
from voice.call import Call, go

PAGE = 4          # choices per spoken list (more is too much to hold in mind): keys 1–4, 9 = the next ones
NEXT_KEYS = ("9", "8")   # 9 is said (「ほかの商品は9」); 8, the old key, still works
MENU_HINTS = ("いつもの", "注文", "確認", "取り消し", "オペレーター", "もう一度", "はい", "いいえ")


@dataclass
class Prompt:
    sentences: list[str]
    hints: tuple[str, ...] = MENU_HINTS
    num_digits: int | None = 1
    finish_on_key: str | None = None
    before: list[str] = field(default_factory=list)
    end_call: bool = False


def line_items(pairs: list[list[int]]) -> list[LineItem]:
    return [LineItem(int(pid), int(qty)) for pid, qty in pairs]


def shared_names(call: Call) -> set[str]:
    """Product names sold by more than one shop (大根 at the greengrocer and at a farm stand)."""
    return shared_product_names(call.session)


def catalogue_names(call: Call) -> list[str]:
    """Names of everything on sale, for speech-recognition hints (names only, no ORM objects)."""
    return product_names_on_sale(call.session)


def item_name(call: Call, name: str, shop_id: int, shared: set[str]) -> str:
    """「あやめ青果店の大根」 when another shop sells a 大根 too, else just 「大根」 (brackets in a name are
    read naturally: 「卵 6個入り」)."""
    if name not in shared:
        return P.spoken_name(name)
    shop = shop_by_id(call.session, shop_id)
    return P.spoken_name(name, shop.name if shop else None)


def readback(call: Call, quote: Quote, into: int | None = None) -> list[str]:
    """The read-back before 1 confirms; ``into``: the open order of that day it will be added to."""
    shared = shared_names(call)
    lines = [P.line_sentence(item_name(call, line.name, line.shop_id, shared), line.quantity, line.unit,
                             line.line_total_yen) for line in quote.lines]
    if into is not None:
        total = [f"同じ日にお届けする、注文番号{into}番のご注文に追加します。お届けは1回で、配達料はかかりません。",
                 f"追加する品物は、合計{P.yen(quote.total_yen)}です。"]
    else:
        total = [f"配達料{P.yen(quote.fee_yen)}を合わせて、合計{P.yen(quote.total_yen)}です。"]
    return lines + total + [P.delivery_sentence(quote.delivery_date, quote.window.label, quote.window.start,
                                                quote.window.end)]


def place(call: Call, pairs: list[list[int]], *, repeat_ok: bool = False) -> VoiceResponse:
    """The caller pressed 1 after hearing the read-back: place exactly what was read, or add it to the
    order of that day the read-back named (``state["into"]``). An identical repeat asks first."""
    rid = call.resident_id
    assert rid is not None
    try:
        placed = order_or_add(call.session, resident_id=rid, items=line_items(pairs), placed_by=f"resident:{rid}",
                              channel="phone", now=call.now, into=call.state.get("into"), repeat_ok=repeat_ok,
                              idempotency_key=f"call:{call.call_sid}:{call.state['seq'] - 1}")
    except OrderError as error:
        if error.code == "repeat_order":
            return go(call, "repeat", repeat_basket=[list(p) for p in pairs],
                      repeat_of=error.details.get("order_id"))
        return go(call, "menu", before=[error.message, "ご注文は確定していません。"])
    call.state["basket"] = []
    call.state["last_order_id"] = placed.order.id
    if placed.added:
        done = [f"注文番号{placed.order.id}番のご注文に追加しました。配達料は1回分のままです。"]
    else:
        done = [f"ご注文を承りました。注文番号は{placed.order.id}番です。"]
    return go(call, "placed", before=done)
