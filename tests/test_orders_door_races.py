"""Concurrency for one order per door per day: confirmations for the same resident at the same moment
(いつもの tapped twice, a family member and the resident, LINE and the phone) make one order and never
oversell. Threads with their own ``db.transaction(app)``, released together, on the real database; the
negative control shows that looking for the open order without serialising the door double-orders."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import func, select

from orders.errors import OrderError
from orders.models import Order, OrderAddition
from orders.service import LineItem, add_to_order, open_order_for, order_or_add, place_order
from core.clock import JST
from core.db import db
from shops.models import Product
from tests.factories import make_product, make_resident, make_shop
from tests.test_orders_races import ledger_sum, together, unexpected

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=JST)


def test_confirmations_for_one_door_at_once_make_one_order(app: Flask) -> None:
    buyers = 8
    with db.transaction(app) as session:
        shop = make_shop(session)
        products = [make_product(session, shop, name=f"品{i}", stock=10).id for i in range(buyers)]
        resident_id = make_resident(session).id

    def confirm(i: int) -> tuple[int, bool]:
        with db.transaction(app) as session:
            placed = order_or_add(session, resident_id=resident_id, items=[LineItem(products[i], 1)],
                                  placed_by=f"family:{i}", channel="line" if i % 2 else "phone", now=NOW,
                                  idempotency_key=f"k{i}")
            return placed.order.id, placed.added

    outcomes = together(buyers, confirm)
    assert unexpected(outcomes) == [] and all(o.error is None for o in outcomes)
    assert len({o.value[0] for o in outcomes}) == 1                 # one order for the door
    assert sorted(o.value[1] for o in outcomes) == [False] + [True] * (buyers - 1)
    with db.reading(app) as session:
        [order] = session.scalars(select(Order)).all()
        assert sorted(line.product_id for line in order.lines) == sorted(products)
        assert order.fee_yen == 100 and order.total_yen == 150 * buyers + 100   # one fee
        assert session.scalar(select(func.count()).select_from(OrderAddition)) == buyers - 1
        for pid in products:
            assert session.get(Product, pid).stock == 9 and 10 + ledger_sum(session, pid) == 9  # type: ignore[union-attr]


def test_additions_racing_for_the_last_units_never_oversell(app: Flask) -> None:
    with db.transaction(app) as session:
        product_id = make_product(session, stock=3).id
        resident_id = make_resident(session).id
    buyers = 8

    def confirm(i: int) -> int:
        with db.transaction(app) as session:
            # はい to the repeat question each time: the same basket, on purpose.
            return order_or_add(session, resident_id=resident_id, items=[LineItem(product_id, 1)],
                                placed_by=f"resident:{i}", channel="line", now=NOW, repeat_ok=True).order.id

    outcomes = together(buyers, confirm)
    assert unexpected(outcomes) == []
    sold = [o.value for o in outcomes if o.error is None]
    refused = [o.error for o in outcomes if isinstance(o.error, OrderError)]
    assert len(sold) == 3 and len(set(sold)) == 1
    assert len(refused) == buyers - 3 and all(e.code == "sold_out" for e in refused)  # type: ignore[union-attr]
    with db.reading(app) as session:
        [order] = session.scalars(select(Order)).all()
        assert [line.quantity for line in order.lines] == [3]
        assert session.get(Product, product_id).stock == 0 and 3 + ledger_sum(session, product_id) == 0  # type: ignore[union-attr]


def test_two_additions_to_one_order_at_once_both_count(app: Flask) -> None:
    """add_to_order locks the order row: two additions never overwrite each other's lines or total."""
    with db.transaction(app) as session:
        product_id = make_product(session, stock=50).id
        resident_id = make_resident(session).id
        order_id = place_order(session, resident_id=resident_id, items=[LineItem(product_id, 1)],
                               placed_by="r", channel="line", now=NOW).id
    buyers = 6

    def add(i: int) -> int:
        with db.transaction(app) as session:
            return add_to_order(session, order_id=order_id, items=[LineItem(product_id, i + 1)],
                                actor=f"family:{i}", channel="line", now=NOW + timedelta(minutes=1)).id

    outcomes = together(buyers, add)
    assert unexpected(outcomes) == [] and all(o.error is None for o in outcomes)
    with db.reading(app) as session:
        order = session.get(Order, order_id)
        assert order is not None
        total_units = 1 + sum(range(1, buyers + 1))
        assert [line.quantity for line in order.lines] == [total_units]
        assert order.total_yen == 150 * total_units + 100
        assert session.get(Product, product_id).stock == 50 - total_units  # type: ignore[union-attr]


def test_negative_control_checking_without_serialising_the_door_double_orders(app: Flask) -> None:
    """Look for the open order, then place, without the door lock: both buyers see no order, both
    place one, and the van goes to that door twice. What order_or_add prevents."""
    with db.transaction(app) as session:
        shop = make_shop(session)
        products = [make_product(session, shop, name=f"品{i}").id for i in range(2)]
        resident_id = make_resident(session).id
    looked = threading.Barrier(2)

    def naive(i: int) -> int:
        with db.reading(app) as session:
            open_order = open_order_for(session, resident_id=resident_id, now=NOW)
        looked.wait()          # both have looked before either places: the race, made deterministic
        with db.transaction(app) as session:
            if open_order is not None:
                return add_to_order(session, order_id=open_order.id, items=[LineItem(products[i], 1)],
                                    actor="r", channel="line", now=NOW).id
            return place_order(session, resident_id=resident_id, items=[LineItem(products[i], 1)],
                               placed_by="r", channel="line", now=NOW).id

    outcomes = together(2, naive)
    assert unexpected(outcomes) == []
    with db.reading(app) as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 2   # the bug, reproduced
