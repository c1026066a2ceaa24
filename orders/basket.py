"""A basket while ordering, the same on LINE and the phone: ``[product_id, quantity]`` pairs.

Channels keep the basket in their conversation state and render the changes in their own words; what
a change does to the basket (remove, set, add to a line, a new line, the quantity cap) is decided here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, Protocol

from orders.placing import MAX_QUANTITY

Basket = list[list[int]]
ChangeKind = Literal["removed", "set", "added", "new"]


@dataclass(frozen=True)
class Wanted:
    """One change asked for (an understood item, a button tap)."""
    op: str            # order | set | add | remove
    product_id: int
    quantity: int


class _WantedLike(Protocol):
    @property
    def op(self) -> str: ...
    @property
    def product_id(self) -> int: ...
    @property
    def quantity(self) -> int: ...


@dataclass(frozen=True)
class BasketChange:
    kind: ChangeKind
    product_id: int
    total: int         # the line's quantity afterwards (0 when removed)


def apply_changes(basket: Basket, items: Iterable[_WantedLike]) -> list[BasketChange]:
    """Apply each wanted change to ``basket`` in place; one ``BasketChange`` per item, in order."""
    changes: list[BasketChange] = []
    for item in items:
        line = next((pair for pair in basket if pair[0] == item.product_id), None)
        if item.op == "remove":
            if line is not None:
                basket.remove(line)
            changes.append(BasketChange("removed", item.product_id, 0))
        elif item.op == "set":
            if line is None:
                basket.append([item.product_id, item.quantity])
            else:
                line[1] = item.quantity
            changes.append(BasketChange("set", item.product_id, item.quantity))
        elif line is not None:
            line[1] = min(MAX_QUANTITY, line[1] + item.quantity)
            changes.append(BasketChange("added", item.product_id, line[1]))
        else:
            basket.append([item.product_id, item.quantity])
            changes.append(BasketChange("new", item.product_id, item.quantity))
    return changes
