"""The basket rules both channels share (orders/basket.py): remove, set, add to a line, a new line, the cap."""

from __future__ import annotations

from orders.basket import BasketChange, Wanted, apply_changes
from orders.placing import MAX_QUANTITY


def test_each_change_does_what_it_says_and_reports_the_line_afterwards() -> None:
    basket = [[1, 2], [2, 1]]
    changes = apply_changes(basket, [Wanted("set", 1, 1), Wanted("add", 2, 2), Wanted("remove", 3, 1),
                                     Wanted("order", 4, 5), Wanted("remove", 1, 1)])
    assert basket == [[2, 3], [4, 5]]
    assert changes == [BasketChange("set", 1, 1), BasketChange("added", 2, 3), BasketChange("removed", 3, 0),
                       BasketChange("new", 4, 5), BasketChange("removed", 1, 0)]


def test_ordering_what_is_already_in_the_basket_adds_to_it_up_to_the_cap() -> None:
    basket = [[7, MAX_QUANTITY - 1]]
    assert apply_changes(basket, [Wanted("order", 7, 5)]) == [BasketChange("added", 7, MAX_QUANTITY)]
    assert basket == [[7, MAX_QUANTITY]]
