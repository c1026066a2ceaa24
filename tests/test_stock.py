"""A shop's stock: compare-and-set from a form, guarded adjustments, sold-out switch, a balanced ledger."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orders.errors import OrderError
from orders.service import LineItem, cancel_order, place_order
from core.clock import JST
from core.models import AuditEntry
from shops.models import Product, StockMovement
from shops.service import StockError, adjust_stock, set_available, set_stock
from tests.factories import make_product, make_resident

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=JST)
WHO = dict(actor="shop:1", channel="line", now=NOW)


def ledger_sum(session: Session, product_id: int) -> int:
    return int(session.scalar(select(func.coalesce(func.sum(StockMovement.delta), 0))
                              .where(StockMovement.product_id == product_id)) or 0)


def current(session: Session, product_id: int) -> int | None:
    session.expire_all()
    return session.get(Product, product_id).stock  # type: ignore[union-attr]


def test_set_stock_with_the_value_the_shop_saw(session: Session) -> None:
    product = make_product(session, stock=20)
    session.commit()
    set_stock(session, product_id=product.id, new_stock=30, expected=20, **WHO)
    session.commit()
    assert current(session, product.id) == 30 and ledger_sum(session, product.id) == 10
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "stock.set")).one()
    assert audit.data == {"old": 20, "new": 30}


def test_a_stale_form_is_refused_not_applied(session: Session) -> None:
    product = make_product(session, stock=5)
    resident = make_resident(session)
    session.commit()
    # The shop opened its form at 5; meanwhile a resident ordered 2.
    place_order(session, resident_id=resident.id, items=[LineItem(product.id, 2)], placed_by="r",
                channel="line", now=NOW)
    session.commit()
    with pytest.raises(StockError) as caught:
        set_stock(session, product_id=product.id, new_stock=10, expected=5, **WHO)
    assert caught.value.code == "stale_stock" and caught.value.details["current"] == 3
    assert "もう一度" in caught.value.message
    session.commit()
    assert current(session, product.id) == 3
    assert 5 + ledger_sum(session, product.id) == 3


def test_set_stock_without_expected_and_to_unlimited_and_back(session: Session) -> None:
    product = make_product(session, stock=7)
    session.commit()
    set_stock(session, product_id=product.id, new_stock=None, **WHO)   # unlimited: counts as 0
    session.commit()
    assert current(session, product.id) is None and 7 + ledger_sum(session, product.id) == 0
    set_stock(session, product_id=product.id, new_stock=4, expected=None, **WHO)
    session.commit()
    assert current(session, product.id) == 4 and 7 + ledger_sum(session, product.id) == 4


@pytest.mark.parametrize("bad", [-1, 100_000, "10", 1.5, True])
def test_bad_stock_values(session: Session, bad: object) -> None:
    product = make_product(session, stock=7)
    session.commit()
    with pytest.raises(StockError) as caught:
        set_stock(session, product_id=product.id, new_stock=bad, **WHO)  # type: ignore[arg-type]
    assert caught.value.code == "bad_stock"
    with pytest.raises(StockError) as caught:
        set_stock(session, product_id=999_999, new_stock=1, **WHO)
    assert caught.value.code == "unknown_product"


def test_adjust_is_guarded_never_below_zero(session: Session) -> None:
    product = make_product(session, stock=3)
    unlimited = make_product(session, stock=None)
    session.commit()
    assert adjust_stock(session, product_id=product.id, delta=4, **WHO).stock == 7
    assert adjust_stock(session, product_id=product.id, delta=-7, **WHO).stock == 0
    with pytest.raises(StockError) as caught:
        adjust_stock(session, product_id=product.id, delta=-1, **WHO)
    assert caught.value.code == "negative_stock"
    with pytest.raises(StockError) as caught:
        adjust_stock(session, product_id=unlimited.id, delta=1, **WHO)
    assert caught.value.code == "unlimited_stock"
    session.commit()
    assert current(session, product.id) == 0 and 3 + ledger_sum(session, product.id) == 0


def test_sold_out_switch_stops_orders_and_keeps_stock(session: Session) -> None:
    product = make_product(session, stock=3)
    resident = make_resident(session)
    session.commit()
    set_available(session, product_id=product.id, available=False, **WHO)
    session.commit()
    with pytest.raises(OrderError) as caught:
        place_order(session, resident_id=resident.id, items=[LineItem(product.id, 1)], placed_by="r",
                    channel="line", now=NOW)
    assert caught.value.code == "product_unavailable"
    set_available(session, product_id=product.id, available=True, **WHO)
    place_order(session, resident_id=resident.id, items=[LineItem(product.id, 1)], placed_by="r",
                channel="line", now=NOW)
    session.commit()
    assert current(session, product.id) == 2


def test_ledger_balances_through_a_mixed_history(session: Session) -> None:
    product = make_product(session, stock=10)
    resident = make_resident(session)
    session.commit()
    a = place_order(session, resident_id=resident.id, items=[LineItem(product.id, 3)], placed_by="r",
                    channel="line", now=NOW)
    adjust_stock(session, product_id=product.id, delta=5, **WHO)
    set_stock(session, product_id=product.id, new_stock=8, expected=12, **WHO)
    place_order(session, resident_id=resident.id, items=[LineItem(product.id, 2)], placed_by="r",
                channel="line", now=NOW)
    cancel_order(session, order_id=a.id, actor="r", channel="line", now=NOW)
    session.commit()
    assert current(session, product.id) == 9
    assert 10 + ledger_sum(session, product.id) == 9
    reasons = sorted(session.scalars(select(StockMovement.reason)))
    assert reasons == ["adjust", "cancel", "order", "order", "set"]
