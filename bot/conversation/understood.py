"""Typed LINE text, rendered from ``understanding.understand``: the bot does not parse, it shows.

Items understood go into the basket (ordered, set to a number, added to, removed) and the quote card
follows; a question (which rice? 卵は10個入り1パック…) is asked with its likely answers as buttons,
and nothing that needs the question is placed before it is answered.
"""

from __future__ import annotations

from typing import Any

from bot import messages as m
from bot.conversation import catalogue, common, my_orders, ordering
from bot.conversation.common import remember_back
from bot.conversation.state import Ctx
from bot.messages import Message
from orders.basket import apply_changes
from shops.service import product_by_id
from understanding import QuantityError, Understood, parse_quantity, understand, waiting

MAX_CHOICES = 10     # quick replies: 13 at most, with 戻る and 最初から after them


def read(ctx: Ctx, text: str) -> Understood:
    """Understand ``text`` against what is on sale and this chat's basket. Cached words find the
    candidates; when one of them is no longer on sale (or renamed) the text is read again against
    fresh rows only, so a cached word never puts a stale product in the basket."""
    basket = {pid: qty for pid, qty in ctx.basket()}
    browse = ctx.state.get("browse") or {}
    shop_id = browse.get("s") if ctx.state.get("step") in ("prods", "qty", "basket", "confirm") else None
    words = catalogue.shop_first(catalogue.words(ctx.session), shop_id)
    shown = {w.id for w in words if shop_id and w.shop_id == shop_id
             and (not browse.get("c") or w.category == browse.get("c"))}
    said = understand(words, text, basket=basket, shown=shown)
    ids = _product_ids(said)
    if ids:
        fresh = catalogue.fresh_words(ctx.session, ids)
        if {w.id for w in fresh} != set(ids):
            fresh = catalogue.fresh_words(ctx.session, ids + list(basket))
            said = understand(catalogue.shop_first(fresh, shop_id), text, basket=basket, shown=shown)
    return said


def _product_ids(said: Understood) -> list[int]:
    ids = [item.product_id for item in said.items]
    if said.ambiguity is not None:
        ids += [c.product_id for c in said.ambiguity.choices]
    return list(dict.fromkeys(ids))


def _choice_action(choice: Any) -> m.Action:
    if choice.quantity is None:
        return m.postback(choice.label, "qty", p=choice.product_id)
    action = "set" if choice.op == "set" else "add"
    return m.postback(choice.label, action, p=choice.product_id, q=choice.quantity)


def apply_items(ctx: Ctx, said: Understood) -> list[str]:
    """Put what was understood into the basket; returns the sentences saying what changed."""
    basket = ctx.basket()
    notes: list[str] = []
    for item, change in zip(said.items, apply_changes(basket, said.items)):
        product = product_by_id(ctx.session, item.product_id)
        name = product.name if product is not None else item.name
        if change.kind == "removed":
            notes.append(f"{name}をかごから外しました。")
        elif change.kind == "set":
            notes.append(f"{name}を{item.quantity}{item.unit}にしました。")
        elif change.kind == "added":
            notes.append(f"{name}を{item.quantity}{item.unit}足して、{change.total}{item.unit}にしました。")
        # a new line needs no sentence: the order card that follows shows it
    ctx.set_basket(basket)
    return notes


def ask(ctx: Ctx, said: Understood, notes: list[str]) -> list[Message]:
    """The one question, with its likely answers as buttons (a typed number answers it too)."""
    assert said.ambiguity is not None
    question = said.ambiguity
    if question.kind == "quantity" and question.product_id is not None:
        return ordering.ask_quantity(ctx, question.product_id, "\n".join(notes))
    ctx.state["step"] = "ask"
    ctx.state["ask"] = [[c.label, c.product_id, c.quantity, c.op] for c in question.choices[:MAX_CHOICES]]
    back = remember_back(ctx, "basket") if ctx.basket() else remember_back(ctx, "menu")
    actions = [_choice_action(c) for c in question.choices[:MAX_CHOICES]]
    lines = notes + [question.question]
    if len(question.choices) > MAX_CHOICES:
        lines.append("ほかの品物は「注文する」からお店を選んでください。")
        actions = actions[:MAX_CHOICES - 1] + [m.postback("注文する", "shops")]
    return [m.text("\n".join(lines), quick=m.quick_reply(actions, back=back))]


def typed_answer(ctx: Ctx, text: str) -> list[Message] | None:
    """「2」「2パック」 typed instead of tapping an answer: the choice with that number, if one has it."""
    choices = ctx.state.get("ask") or []
    try:
        number = parse_quantity(text)
    except QuantityError:
        return None
    chosen = [c for c in choices if c[2] == number]
    if len(chosen) != 1:
        return None
    _, product_id, quantity, op = chosen[0]
    ctx.state.pop("ask", None)
    if op == "set":
        return ordering.set_quantity(ctx, int(product_id), int(quantity))
    return ordering.add(ctx, int(product_id), int(quantity))


def render(ctx: Ctx, said: Understood) -> list[Message]:
    intent = said.intent
    if intent in ("order_items", "change_set", "change_add", "change_remove"):
        return _items(ctx, said)
    if intent == "greet":
        return common.menu(ctx, "こんにちは。お届けサービスです。")
    if intent == "menu":
        return common.menu(ctx)
    if intent == "shops":
        return ordering.shops(ctx)
    if intent == "basket":
        return ordering.show_basket(ctx)
    if intent == "usual":
        return my_orders.usual(ctx)
    if intent == "check":
        return my_orders.status(ctx, intro="ご注文の確認ですね。")
    if intent == "cancel":
        return my_orders.status(ctx, intro="ご注文の取り消しですね。取り消すご注文の「取り消す」を押してください。")
    if intent in ("help", "talk_to_person"):
        return common.help_(ctx)
    return common.not_understood(ctx)


def after_answer(ctx: Ctx, product_id: int, notes: list[str]) -> list[Message] | None:
    """Once the one question about ``product_id`` is answered (``ordering.add``/``set_quantity``, the
    answer already in the basket, ``notes`` saying so): on to the products said with it that were
    waiting (``understanding.waiting``); None when nothing waits, and the order card follows as usual."""
    words = waiting.take_after(ctx.state, product_id)
    if not words:
        return None
    return _items(ctx, _read_again(ctx, words[0]), carried=words[1:], before=notes)


def _read_again(ctx: Ctx, words: str) -> Understood:
    return waiting.read_again(read(ctx, words), words)


def _items(ctx: Ctx, said: Understood, carried: list[str] | None = None,
           before: list[str] | None = None) -> list[Message]:
    notes = list(before or []) + apply_items(ctx, said)
    # Every word that named nothing, and every product waiting behind the question, is said back.
    notes += [f"「{u}」は見つかりませんでした。" for u in said.unmatched if u]
    if said.pending:
        notes.append(f"{'、'.join(said.pending)}は、この質問のあとで続けます。")
    if said.ambiguity is not None:
        waiting.hold(ctx.state, said, carried or [])
        return ask(ctx, said, notes)
    waiting.drop(ctx.state)
    if carried:
        # The answer needed no question of its own: on to the next product that was waiting.
        return _items(ctx, _read_again(ctx, carried[0]), carried[1:],
                      notes + ([said.problem] if said.problem else []))
    if said.problem:
        if ctx.basket():
            return ordering.show_basket(ctx, "\n".join(notes + [said.problem]))
        return [m.text(said.problem, quick=m.quick_reply([m.postback("注文する", "shops")]))]
    if not ctx.basket():
        return common.menu(ctx, "\n".join(notes + ["かごが空になりました。"]))
    return ordering.quote(ctx, notes=notes)
