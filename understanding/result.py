"""The typed result of ``understand``: what both channels render (no parsing in a channel)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class Entry(Protocol):
    """What the layer needs of a product (``shops.models.Product`` and the LINE word cache have it)."""

    id: int
    name: str
    kana: str
    unit: str
    category: str


@dataclass(frozen=True)
class Choice:
    label: str                 # what the resident sees or hears: 「1パック（10個）」
    product_id: int
    quantity: int | None       # None: ask how many next
    op: str = "order"          # order | set | add


@dataclass(frozen=True)
class Ambiguity:
    kind: str                  # product | unit | quantity (none said) | number (two said) | in_basket
    question: str
    choices: tuple[Choice, ...] = ()
    product_id: int | None = None
    category: str | None = None   # the resident named a kind of item (「お米」)


@dataclass(frozen=True)
class Item:
    product_id: int
    name: str
    unit: str
    quantity: int              # order/add: how many more; set: the new number; remove: 0
    op: str = "order"          # order | set | add | remove


@dataclass(frozen=True)
class Understood:
    intent: str                # greet menu shops basket back order_items usual check change_set change_add
    #                            change_remove cancel help talk_to_person yes no unknown
    items: tuple[Item, ...] = ()
    ambiguity: Ambiguity | None = None
    problem: str = ""          # a sentence to say as is (「半分などの量は承れません…」)
    unmatched: tuple[str, ...] = ()   # words that named nothing on sale, as said: every one is said back
    text: str = ""
    # Products recognised but not settled because one question comes first (「大根と牛乳」: how many
    # 大根? — 牛乳 waits): named back so that nothing said is dropped in silence.
    pending: tuple[str, ...] = ()
    # The same products' words as the resident said them (「牛乳2本」), one entry each, to be read again
    # (``understand``) once the question is answered: the channel goes on to them (``waiting``), so the
    # resident never says them twice.
    pending_said: tuple[str, ...] = ()

    @property
    def asks(self) -> bool:
        return self.ambiguity is not None or bool(self.problem)


# --- intents without a product -----------------------------------------------------------------------

# Intents in the order they are tried: 「注文を取り消したい」 is a cancel, not a new order; 「人と話したい」
# beats help; a greeting is only a greeting when nothing else was asked (「こんにちは、いつもの」).
