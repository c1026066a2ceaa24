"""The stock guard itself (``UPDATE … WHERE stock >= :q`` in orders/stock.py), on both databases.

The 200-buyer race (test_orders_races.py) only catches a removed guard on PostgreSQL: SQLite's writers
are serialised by BEGIN IMMEDIATE, so there the read-time check in ``load_products`` always sees the
committed stock and a missing guard is never exercised (issue 12, hole 12). This test makes the
interleaving that a concurrent buyer causes on PostgreSQL happen deterministically on both: the order's
transaction has read the product (5 left) when the last units go, so only the guarded UPDATE's
"no row matched" path can refuse it. Without the guard the UPDATE runs and the stock goes to -1 (caught
late by the CHECK constraint as an IntegrityError instead of 売り切れ) or, without that, oversells.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select, update

from orders.errors import OrderError
from orders.models import Order
from orders.service import LineItem, place_order
from core.clock import JST
from core.db import db
from shops.models import Product, StockMovement
from tests.factories import make_product, make_resident, make_shop

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=JST)


@pytest.mark.parametrize("wanted", [1, 5])
def test_units_taken_after_the_order_read_the_stock_are_refused_by_the_guard(app, wanted: int) -> None:
    with db.transaction(app) as session:
        shop = make_shop(session)
        product_id = make_product(session, shop, name="大根", stock=5).id
        resident_id = make_resident(session).id
    with pytest.raises(OrderError) as refused:
        with db.transaction(app) as session:
            # What this order has read (held: the session's identity map keeps only referenced objects).
            read = session.get(Product, product_id)
            assert read.stock == 5
            # Another buyer's committed purchase, as this transaction would meet it on PostgreSQL: the
            # row changes underneath, the loaded Product still says 5.
            session.execute(update(Product.__table__).where(Product.__table__.c.id == product_id)
                            .values(stock=0))
            place_order(session, resident_id=resident_id, items=[LineItem(product_id, wanted)],
                        placed_by="test", channel="line", now=NOW)
    assert refused.value.code == "sold_out" and "売り切れ" in refused.value.message
    with db.reading(app) as session:
        # The whole transaction rolled back (the raise), the stock is untouched and never negative.
        assert session.scalar(select(Product.stock).where(Product.id == product_id)) == 5
        assert session.scalar(select(func.count()).select_from(Order)) == 0
        assert session.scalar(select(func.count()).select_from(StockMovement)) == 0


def test_the_guard_refuses_inside_an_open_transaction_that_goes_on(app) -> None:
    """A channel catches the 売り切れ and commits its reply: the order's savepoint left nothing behind."""
    with db.transaction(app) as session:
        shop = make_shop(session)
        product_id = make_product(session, shop, name="大根", stock=2).id
        resident_id = make_resident(session).id
    with db.transaction(app) as session:
        read = session.get(Product, product_id)   # noqa: F841 - held, as above
        session.execute(update(Product.__table__).where(Product.__table__.c.id == product_id).values(stock=1))
        with pytest.raises(OrderError):
            place_order(session, resident_id=resident_id, items=[LineItem(product_id, 2)],
                        placed_by="test", channel="line", now=NOW)
    with db.reading(app) as session:
        assert session.scalar(select(Product.stock).where(Product.id == product_id)) == 1
        assert session.scalar(select(func.count()).select_from(Order)) == 0
