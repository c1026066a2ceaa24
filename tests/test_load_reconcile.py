"""The load bench's reconciliation: lost and doubled orders and doubled outbox messages are counted."""

from __future__ import annotations

from benchmarks.load_reconcile import reconcile


def test_everything_accounted_for_is_clean() -> None:
    r = reconcile(["e1", "e2"], ["e2", "e1"], [("line", "U1", "order_confirmed", {"n": 1}),
                                               ("line", "U2", "order_confirmed", {"n": 1})])
    assert r.clean and r.orders_found == 2 and r.outbox_rows == 2


def test_lost_doubled_and_unexpected_orders_are_counted() -> None:
    r = reconcile(["e1", "e2", "e3"], ["e1", "e1", "e3", "x9"], [])
    assert (r.orders_lost, r.orders_doubled, r.unexpected_orders) == (1, 1, 1)
    assert not r.clean


def test_the_same_message_twice_is_a_double_whatever_the_key_order() -> None:
    r = reconcile([], [], [("sms", "+81", "eta", {"a": 1, "b": 2}), ("sms", "+81", "eta", {"b": 2, "a": 1}),
                           ("sms", "+82", "eta", {"a": 1, "b": 2})])
    assert r.outbox_doubled == 1 and not r.clean


def test_an_order_of_unknown_outcome_may_exist_once_but_not_twice() -> None:
    # The request was cut off when locust stopped: the order may or may not have been placed.
    placed = reconcile(["e1"], ["e1", "m1"], [], maybe_refs=["m1", "m2"])
    assert placed.clean and placed.unexpected_orders == 0 and placed.orders_lost == 0
    assert (placed.maybe_sent, placed.maybe_found) == (2, 1)
    twice = reconcile(["e1"], ["e1", "m1", "m1"], [], maybe_refs=["m1"])
    assert twice.orders_doubled == 1 and not twice.clean


def test_an_order_nobody_sent_is_still_unexpected_beside_maybes() -> None:
    r = reconcile(["e1"], ["e1", "x9"], [], maybe_refs=["m1"])
    assert r.unexpected_orders == 1 and r.maybe_found == 0 and not r.clean
