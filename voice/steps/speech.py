"""What a caller says, rendered from ``understanding.understand`` (the same layer as LINE text).

Items go into the call's basket (ordered, set, added to, removed); a question the layer asks (which
rice? 卵は10個入り1パック…) becomes the ``clarify`` step with at most four numbered answers, or the
quantity step, or the list of that kind of item; intents (いつもの, 確認, 取り消し, a person) go to their
steps. Nothing that needs the question is placed before it is answered.
"""

from __future__ import annotations

from typing import Any

from twilio.twiml.voice_response import VoiceResponse

from orders.basket import apply_changes
from orders.errors import OrderError
from orders.service import quote_order
from shops.models import Product
from shops.service import list_products, product_by_id
from understanding import Item, Understood, heard_words, nearest_for, parse_quantity, understand, waiting
from understanding.quantities import QuantityError
from voice import prompts as P
from voice.call import Call, Turn, common, failed, go, render, to_operator
from voice.steps.common import Prompt, line_items

MAX_SPOKEN_CHOICES = 4     # more than four numbered choices cannot be held in mind on the phone
ITEM_INTENTS = ("order_items", "change_set", "change_add", "change_remove")


def spoken_label(label: str) -> str:
    """「卵（10個） 2パック」 → 「卵 10個入り 2パック」: brackets are not read out (``prompts.speakable``)."""
    return P.speakable(label).strip()


def _catalogue_heard(call: Call) -> tuple[list[Product], list[Product]]:
    """All products, those of the list being heard first; and that list."""
    products = list_products(call.session)
    shop_id, category = call.state.get("shop_id"), call.state.get("category")
    listed: list[Product] = []
    if call.state.get("step") in ("item", "more", "qty") and (shop_id or category):
        # The list being heard first: between two products of one name, the one just read out is meant.
        listed = [p for p in products if (not shop_id or p.shop_id == shop_id)
                  and (not category or p.category == category)]
        seen = {p.id for p in listed}
        products = listed + [p for p in products if p.id not in seen]
    return products, listed


def hear(call: Call, turn: Turn) -> Understood:
    return _hear(call, turn.speech)


def _hear(call: Call, words: str) -> Understood:
    basket = {int(pid): int(qty) for pid, qty in call.state.get("basket") or []}
    products, listed = _catalogue_heard(call)
    return understand(products, words, basket=basket, shown={p.id for p in listed})


def after_answer(call: Call, turn: Turn, item: Any) -> VoiceResponse | None:
    """The one question about ``item``'s product was answered (a choice, a quantity): put it in the
    basket and go on to the products said with it that were waiting (``understanding.waiting``);
    None when nothing waits, and the step goes on as usual."""
    words = waiting.take_after(call.state, item.product_id)
    if not words:
        return None
    return _items(call, turn, Understood("order_items", (item,)), carried=words)


def respond(call: Call, turn: Turn, *, items_only: bool = False) -> VoiceResponse | None:
    """Act on what the caller said; None when it is nothing the layer understood (or, with
    ``items_only``, nothing about items), so the step can try its own keys and words."""
    if not turn.speech:
        return None
    said = hear(call, turn)
    if said.intent in ITEM_INTENTS:
        return _items(call, turn, said)
    if items_only:
        return None
    if said.intent == "usual":
        return go(call, "usual")
    if said.intent == "check":
        return go(call, "orders", order_index=0, before=["ご注文の確認ですね。"])
    if said.intent == "cancel":
        return go(call, "orders", order_index=0, before=["ご注文の取り消しですね。"])
    if said.intent in ("help", "talk_to_person"):
        return to_operator(call)
    if said.intent == "menu":
        return go(call, "menu")
    if said.intent == "shops":
        return go(call, "shop", page=0, cat_page=0, shop_id=None, category=None)
    if said.intent == "basket":
        if call.state.get("basket"):
            return go(call, "review")
        return go(call, "shop", page=0, cat_page=0, before=["かごは空です。"])
    if said.intent == "greet":
        return render(call, before=["こんにちは。"])
    return None


def _name(product: Product | None, fallback: str) -> str:
    return P.spoken_name(product.name) if product is not None else fallback


def _items(call: Call, turn: Turn, said: Understood, carried: list[str] | None = None,
           before: list[str] | None = None) -> VoiceResponse:
    basket: list[list[int]] = [list(map(int, pair)) for pair in call.state.get("basket") or []]
    sentences: list[str] = list(before or [])
    changed = False
    for item, change in zip(said.items, apply_changes(basket, said.items)):
        name = _name(product_by_id(call.session, item.product_id), item.name)
        changed = changed or change.kind != "new"
        if change.kind == "removed":
            sentences.append(f"{name}を取り消しました。")
        elif change.kind == "set":
            sentences.append(f"{name}を{item.quantity}{item.unit}にしました。")
        elif change.kind == "added":
            sentences.append(f"{name}を{item.quantity}{item.unit}足して、{change.total}{item.unit}にしました。")
        else:
            sentences.append(f"{name}を{item.quantity}{item.unit}、かごに入れました。")
    if not said.items and said.ambiguity is None and not said.problem and said.unmatched and not before:
        # Nothing ordered at all (and nothing just answered): say what was heard, offer the nearest.
        return offer_nearest(call, turn, said.unmatched)
    sentences += not_taken(said.unmatched, said.pending)
    if basket:
        try:
            quote_order(call.session, resident_id=call.resident_id, items=line_items(basket), now=call.now)
        except OrderError as error:
            return failed(call, turn, reason=[error.message])
    call.state["basket"] = basket
    if said.ambiguity is not None:
        waiting.hold(call.state, said, carried or [])
        return ask(call, said, sentences)
    waiting.drop(call.state)
    if carried:
        # The answer needed no question of its own: on to the next product that was waiting.
        return _items(call, turn, waiting.read_again(_hear(call, carried[0]), carried[0]), carried[1:],
                      sentences + ([said.problem] if said.problem else []))
    if said.problem:
        return failed(call, turn, reason=sentences + [said.problem])
    if not basket:
        return go(call, "shop", page=0, cat_page=0, before=sentences + ["かごが空になりました。"])
    if changed:
        return go(call, "review", before=sentences)
    return go(call, "more", before=sentences)


def not_taken(unmatched: tuple[str, ...] | list[str], pending: tuple[str, ...] = ()) -> list[str]:
    """What the caller said that is not in the basket, one short sentence each: words that named
    nothing (all of them, not the first two), and products waiting behind the one question
    (``Understood.pending``, taken up again once it is answered), so nothing is dropped in silence."""
    sentences = []
    if unmatched:
        sentences.append(f"{'と、'.join(spoken_label(w) for w in unmatched)}は、見つかりませんでした。")
    if pending:
        sentences.append(f"{'と、'.join(P.spoken_name(n) for n in pending)}は、この質問のあとで続けてお聞きします。")
    return sentences


def ask(call: Call, said: Understood, before: list[str]) -> VoiceResponse:
    question = said.ambiguity
    assert question is not None
    if question.kind == "quantity" and question.product_id is not None:
        return go(call, "qty", pending=[question.product_id], before=before)
    if question.category and len(question.choices) > MAX_SPOKEN_CHOICES:
        # 「お米」: the list of that kind of item, read four at a time.
        return go(call, "item", category=question.category, shop_id=None, page=0,
                  before=before + [f"{question.category}ですね。"])
    choices = [[spoken_label(c.label), c.product_id, c.quantity, c.op] for c in question.choices]
    return go(call, "clarify", clarify={"q": question.question.replace("？", "。"),
                                        "choices": choices[:MAX_SPOKEN_CHOICES]}, before=before)


def offer_nearest(call: Call, turn: Turn, heard: tuple[str, ...] | list[str]) -> VoiceResponse:
    """「だいこを2本、と聞こえました」 and the nearest products (``understanding.nearest_for``) as numbered
    choices, the next number for 「どれでもない」 (back to the step the caller was at, the menu from the
    menu); nothing near → that step's own question again (counted as a try, so a person takes over in
    the end), after saying what was heard. Every word heard is said (``heard_words`` splits an
    utterance at と): the one offered, and each of the others as not found (as ``not_taken`` does)."""
    words_heard = [w for said in heard for w in heard_words(said)]
    words, choices = nearest_for(_catalogue_heard(call)[0], words_heard)
    if not choices:
        said = "と、".join(spoken_label(w) for w in words_heard)
        return failed(call, turn, reason=[f"{said}、と聞こえましたが、その品物は見つかりませんでした。"])
    others = not_taken([w for w in words_heard if w != words])
    spoken = [[P.spoken_name(c.label), c.product_id, c.quantity, c.op] for c in choices]
    back = call.state.get("step") if call.state.get("step") in ("menu", "shop", "item", "more") else "menu"
    return go(call, "clarify", clarify={"q": f"{spoken_label(words)}、と聞こえました。近い品物は、次のとおりです。",
                                        "choices": spoken, "none_step": back}, before=others)


def prompt_clarify(call: Call) -> Prompt:
    clarify = call.state.get("clarify") or {}
    labels = [c[0] for c in clarify.get("choices") or []]
    if clarify.get("none_step"):
        back = "メニュー" if clarify["none_step"] == "menu" else "前のご案内"
        tail = [f"どれでもなければ{len(labels) + 1}を押してください。{back}に戻ります。"]
    else:
        tail = ["ちがうときは、品物の名前と数をもう一度お話しください。"]
    return Prompt([clarify.get("q", "")] + P.numbered(labels) + tail, hints=tuple(labels))


def on_clarify(call: Call, turn: Turn) -> VoiceResponse:
    if (shared := common(call, turn)) is not None:
        return shared
    choices = (call.state.get("clarify") or {}).get("choices") or []
    key = turn.key()
    chosen: Any = None
    if key.isdigit() and 1 <= int(key) <= len(choices):
        chosen = choices[int(key) - 1]
    elif (none_step := (call.state.get("clarify") or {}).get("none_step")) and key == str(len(choices) + 1):
        call.state.pop("clarify", None)
        return go(call, none_step)
    elif turn.speech:
        try:
            said_number = parse_quantity(turn.speech)
        except QuantityError:
            said_number = None
        chosen = next((c for c in choices if said_number is not None and c[2] == said_number), None)
        if chosen is None:
            chosen = next((c for c in choices if P.normalise(c[0]) == P.normalise(turn.speech)), None)
    if chosen is None:
        spoken = respond(call, turn) if turn.speech else None
        return spoken if spoken is not None else failed(call, turn)
    _, product_id, quantity, op = chosen
    call.state.pop("clarify", None)
    if quantity is None:
        return go(call, "qty", pending=[product_id])
    product = product_by_id(call.session, product_id)
    item = Item(product_id, product.name if product else "", product.unit if product else "", int(quantity),
                "set" if op == "set" else "order" if op == "order" else "add")
    return after_answer(call, turn, item) or _items(call, turn, Understood("order_items", (item,)))
