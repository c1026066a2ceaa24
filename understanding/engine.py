"""``understand(catalogue, text)``: what a resident meant, as one typed result both channels render.

The text is read by the analyser (``understanding.analyser``) into hiragana with digits, and the
catalogue's names, kana readings and the synonym table (``synonyms.csv``) are read the same way, so
that spelling (kanji, kana, width) no longer matters. Products are found longest-match first; what
follows each one says how many (``quantities``) and what to do (order, set to, add, remove). Before a
quantity is placed it is checked against how the product is sold: 「卵2個」 when eggs come in packs of
10, 「りんご」 when three kinds are for sale, 「大根2本」 when 2 are already in the basket. Each such case
comes back as an ``Ambiguity`` with one short question and the likely answers, never as a guess.

Two halves: ``scanner`` (the reading → product mentions and the words around them) and ``resolver``
(mentions → items or the question); this module only joins them.
"""

from __future__ import annotations

from typing import Collection, Iterable, Mapping, Sequence

from core.errors import DomainError
from understanding.catalogue import _index, _rows
from understanding.lexicon import read_words
from understanding.resolver import resolve
from understanding.result import Ambiguity, Choice, Entry, Item, Understood
from understanding.scanner import _STRONG, INTENT_ORDER, _intent_of, _mentions, normalise, scan

__all__ = ["INTENT_ORDER", "Ambiguity", "Choice", "Item", "Understood", "normalise", "understand"]


def understand(catalogue: Sequence[Entry] | Iterable[Entry], text: str, *,
               basket: Mapping[int, int] | None = None, shown: Collection[int] = ()) -> Understood:
    """What ``text`` asks for, against ``catalogue`` (on-sale products, in catalogue order) and the
    resident's ``basket`` (product id → quantity), for change/remove and for 「already in the basket」.
    ``shown``: the products on the screen or in the list just heard; of two that fit the words, the
    one the resident is looking at (or listening to) is the one meant."""
    index = _index(_rows(catalogue))
    said, spans, breaks, asking = read_words(text, index.written)
    starts, ends = frozenset(s for s, _, _ in spans), frozenset(e for _, e, _ in spans)
    basket = dict(basket or {})
    if not said:
        return Understood("unknown", text=text)
    hits = _mentions(said, index, starts, ends, breaks)
    intent = _intent_of(said)
    # 「人と話したい」 has 花 (はな) in it, 「いつもの注文」 and 「注文の確認」 no product at all: these
    # intents win over a product word; cancel, order and greetings do not (「大根をキャンセル」).
    if not hits or intent in _STRONG:
        return Understood(intent, text=text)
    try:
        mentions, unmatched = scan(said, spans, hits, asking)
    except DomainError as error:
        return Understood("order_items", problem=error.message, text=text)
    return resolve(index, mentions, basket, frozenset(shown), tuple(unmatched), text)

