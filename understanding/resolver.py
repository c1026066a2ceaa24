"""The resolver: scanned mentions (``understanding.scanner``) against the catalogue and the basket
into items, or the one question to ask first. 「卵2個」 when eggs come in packs of 10, 「りんご」 when
three kinds are for sale, 「大根2本」 when 2 are already in the basket: each comes back as an
``Ambiguity``, never as a guess; products behind that question are named in ``pending``.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

from understanding.catalogue import _base, _Index, _Product, loose
from understanding.lexicon import canonical_counter
from understanding.result import Ambiguity, Choice, Item, Understood
from understanding.scanner import _Said

def _in_basket(index: _Index, ids: Sequence[int], basket: Mapping[int, int]) -> list[int]:
    names = {index.products[i].name for i in ids}
    return [pid for pid in basket if pid in index.products and (pid in ids or index.products[pid].name in names)]


def _candidates(index: _Index, mention: _Said, basket: Mapping[int, int], shown: frozenset[int]) -> list[_Product]:
    """One product per distinct name (大根 sold by three shops is one thing to the resident): the one in
    the basket, else the first in the catalogue (the caller's order)."""
    ids = list(mention.target.product_ids)
    chosen: dict[str, _Product] = {}
    for pid in ids:
        p = index.products[pid]
        current = chosen.get(p.name)
        if current is None or _preference(p, basket) < _preference(current, basket):
            chosen[p.name] = p
    found = sorted(chosen.values(), key=lambda p: p.rank)
    if mention.size_kg is not None:
        sized = [p for p in found if f"{mention.size_kg}kg" in p.reading]
        if sized:
            found = sized
            if mention.quantity is None or canonical_counter(mention.counter) == "kg":
                mention.counter = None
    if len(found) > 1 and mention.counter is not None:
        wanted = canonical_counter(mention.counter)
        same = [p for p in found if p.unit == canonical_counter(mention.counter, p.category)]
        if not same and wanted in ("個", "つ"):
            same = [p for p in found if p.unit == "個" and p.pack is None]
        if same:
            found = same
    if len(found) > 1:
        # 「青菜漬」 is the one called exactly that, not 「青菜漬（手づくり）」.
        exact = [p for p in found if loose(mention.word) in p.exact]
        if len(exact) == 1:
            found = exact
    if len(found) > 1 and mention.op != "order":
        held = [p for p in found if _in_basket(index, [p.id], basket)]
        if held:
            found = held
    if len(found) > 1 and shown:
        # 「卵を2パック」 while hearing a list with 「卵 6個入り」 in it: that one.
        looking = [p for p in found if p.id in shown]
        if len(looking) == 1:
            found = looking
    return found


def _preference(p: _Product, basket: Mapping[int, int]) -> tuple[int, int]:
    return (0 if p.id in basket else 1, p.rank)


def _label(p: _Product, quantity: int | None) -> str:
    return f"{p.name} {quantity}{p.unit}" if quantity else p.name


def resolve(index: _Index, mentions: list[_Said], basket: Mapping[int, int], shown: frozenset[int],
             unmatched: tuple[str, ...], text: str) -> Understood:
    items: list[Item] = []
    ambiguity: Ambiguity | None = None
    problem = ""
    # One question at a time: the others are named (and their words kept to read again), not dropped.
    pending: list[tuple[str, str]] = []
    for mention in mentions:
        found = _candidates(index, mention, basket, shown)
        said_word = mention.word
        op = "set" if mention.op == "reduce" else mention.op
        if len(found) != 1:
            bases = {_base(p.name) for p in found}
            what = mention.target.category or (bases.pop() if len(bases) == 1 else said_word)
            if ambiguity is None:
                choices = tuple(Choice(_label(p, mention.quantity if _fits(p, mention.counter) else None), p.id,
                                       mention.quantity if _fits(p, mention.counter) else None,
                                       "order" if op == "remove" else op) for p in found)
                ambiguity = Ambiguity("product", f"{what}は{len(found)}種類あります。どれにしますか？", choices,
                                      category=mention.target.category)
            else:
                pending.append((what, mention.said_as))
            continue
        p = found[0]
        held = _in_basket(index, [p.id], basket)
        current = basket.get(held[0], 0) if held else 0
        pid = held[0] if held else p.id
        if mention.op == "remove":
            if not held:
                problem = problem or f"かごに{_base(p.name)}は入っていません。"
                continue
            items.append(Item(pid, p.name, p.unit, 0, "remove"))
            continue
        if mention.op == "reduce":
            if not held:
                problem = problem or f"かごに{_base(p.name)}は入っていません。"
                continue
            new = current - (mention.quantity or 1)
            items.append(Item(pid, p.name, p.unit, max(new, 0), "remove" if new <= 0 else "set"))
            continue
        if mention.second is not None and mention.second != mention.quantity:
            if ambiguity is None:
                ambiguity = Ambiguity("number", f"{p.name}は{mention.quantity}{p.unit}と{mention.second}{p.unit}の"
                                      "どちらにしますか？",
                                      tuple(Choice(f"{n}{p.unit}", p.id, n, op if held else "order")
                                            for n in (mention.quantity, mention.second)), product_id=p.id)
            else:
                pending.append((_base(p.name), mention.said_as))
            continue
        if mention.quantity is None and loose(said_word) in p.one:
            # 「食パン一斤」「牛乳1リットル」: the size in the name's brackets, said with no other number, is one.
            mention.quantity = 1
        if mention.quantity is None:
            if ambiguity is None:
                ambiguity = Ambiguity("quantity", f"{p.name}をいくつにしますか？",
                                      tuple(Choice(f"{n}{p.unit}", p.id, n, op if held else "order")
                                            for n in (1, 2, 3, 4, 5)), product_id=p.id)
            else:
                pending.append((_base(p.name), mention.said_as))
            continue
        unit_question = _unit_question(p, mention.quantity, mention.counter, op if held else "order")
        if unit_question is not None:
            if ambiguity is not None:
                pending.append((_base(p.name), mention.said_as))
            ambiguity = ambiguity or unit_question
            continue
        if held and op == "order":
            if ambiguity is None:
                q = mention.quantity
                ambiguity = Ambiguity(
                    "in_basket", f"{p.name}は、かごに{current}{p.unit}入っています。どうしますか？",
                    (Choice(f"合わせて{current + q}{p.unit}にする", pid, q, "add"),
                     Choice(f"{q}{p.unit}にする", pid, q, "set")), product_id=pid)
            else:
                pending.append((_base(p.name), mention.said_as))
            continue
        if not held:
            op = "order"
        items.append(Item(pid, p.name, p.unit, mention.quantity, op))
    ops = [i.op for i in items] + ([ambiguity.choices[0].op] if ambiguity and ambiguity.choices
                                   and ambiguity.kind != "in_basket" else [])
    changed = next((o for o in ops if o != "order"), "order")
    intent = "order_items" if changed == "order" else f"change_{changed}"
    if not items and ambiguity is None and problem and all(m.op in ("remove", "reduce") for m in mentions):
        intent = "change_remove"
    return Understood(intent, tuple(items), ambiguity, problem, unmatched, text,
                      tuple(dict.fromkeys(name for name, _ in pending)), tuple(words for _, words in pending))


def _fits(p: _Product, counter: str | None) -> bool:
    c = canonical_counter(counter, p.category)
    return c is None or c == p.unit or (c in ("個", "つ") and p.pack is None)


def _unit_question(p: _Product, quantity: int, counter: str | None, op: str) -> Ambiguity | None:
    """「卵2個」 when a pack holds 10: 1 pack or 2? 「牛乳2パック」 when milk is sold by the 本: 2本?"""
    c = canonical_counter(counter, p.category)
    if c is None or c == p.unit:
        return None
    base = _base(p.name)
    # 「トイレットペーパー1つ」 is one pack; 「卵ふたつ」 may be two eggs: ask when the pieces are counted
    # the way the resident counted.
    if p.pack is not None and (c == p.pack[1] or (c in ("個", "つ") and p.pack[1] == "個")):
        size, piece = p.pack
        likely = sorted({max(1, math.ceil(quantity / size)), quantity})
        return Ambiguity("unit", f"{base}は{size}{piece}入り1{p.unit}です。何{p.unit}にしますか？",
                         tuple(Choice(f"{n}{p.unit}（{n * size}{piece}）", p.id, n, op) for n in likely),
                         product_id=p.id)
    if c == "個" and p.unit in ("パック", "袋"):
        # 「卵2個」 of eggs sold by the パック, 「みかん2個」 by the 袋: pieces or packs?
        return Ambiguity("unit", f"{base}は1{p.unit}ずつのお届けです。{quantity}{p.unit}にしますか？",
                         (Choice(f"{quantity}{p.unit}", p.id, quantity, op),), product_id=p.id)
    if c in ("個", "つ"):
        return None   # 「大根2個」「納豆ふたつ」: 個 and つ count anything else
    return Ambiguity("unit", f"{base}は1{p.unit}ずつのお届けです。{quantity}{p.unit}にしますか？",
                     (Choice(f"{quantity}{p.unit}", p.id, quantity, op),), product_id=p.id)
