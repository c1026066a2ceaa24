"""cancel_order and change_order: cutoffs, ownership, restocking exactly once, all-or-nothing changes."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orders.errors import OrderError
from orders.models import Order, OrderStatus
from orders.service import LineItem, cancel_order, change_order, get_order, place_order
from core.clock import JST
from outbox.models import OutboxMessage
from shops.models import Product, StockMovement
from tests.factories import make_product, make_resident, make_shop

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=JST)      # cutoff for today's delivery is 10:00
CUTOFF = datetime(2026, 12, 1, 10, 0, tzinfo=JST)


@pytest.fixture
def setup(session: Session) -> dict[str, int]:
    resident = make_resident(session, line_user_id="U-1")
    other = make_resident(session)
    shop = make_shop(session)
    ids = dict(
        resident=resident.id, other=other.id,
        daikon=make_product(session, shop, stock=10).id,
        apple=make_product(session, shop, name="りんご", kana="りんご", unit="個", price_yen=120, stock=3).id,
        bread=make_product(session, shop, name="食パン", kana="しょくぱん", price_yen=300, stock=None).id,
        egg=make_product(session, shop, name="卵", kana="たまご", unit="パック", price_yen=250, stock=4).id,
    )
    session.commit()
    return ids


def order_for(session: Session, ids: dict[str, int], *items: tuple[str, int]) -> Order:
    order = place_order(session, resident_id=ids["resident"], placed_by="resident", channel="line",
                        now=NOW, items=[LineItem(ids[name], q) for name, q in items])
    session.commit()
    return order


def stock_of(session: Session, ids: dict[str, int], *names: str) -> list[int | None]:
    session.expire_all()
    return [session.get(Product, ids[n]).stock for n in names]  # type: ignore[union-attr]


def ledger_balances(session: Session, product_id: int, initial: int) -> bool:
    total = session.scalar(select(func.coalesce(func.sum(StockMovement.delta), 0))
                           .where(StockMovement.product_id == product_id))
    return initial + int(total or 0) == session.get(Product, product_id).stock  # type: ignore[union-attr]


def test_cancel_restocks_once_and_a_second_cancel_is_a_no_op(session: Session, setup) -> None:  # type: ignore[no-untyped-def]
    order = order_for(session, setup, ("daikon", 2), ("apple", 1), ("bread", 1))
    assert stock_of(session, setup, "daikon", "apple") == [8, 2]
    first = cancel_order(session, order_id=order.id, actor="resident", channel="line",
                         now=NOW + timedelta(minutes=5), resident_id=setup["resident"])
    session.commit()
    assert not first.already_cancelled and first.order.status is OrderStatus.CANCELLED
    assert first.order.cancelled_at == NOW + timedelta(minutes=5)
    second = cancel_order(session, order_id=order.id, actor="resident", channel="line",
                          now=NOW + timedelta(minutes=6), resident_id=setup["resident"])
    session.commit()
    assert second.already_cancelled
    assert stock_of(session, setup, "daikon", "apple", "bread") == [10, 3, None]
    assert ledger_balances(session, setup["daikon"], 10) and ledger_balances(session, setup["apple"], 3)
    kinds = sorted(session.scalars(select(OutboxMessage.kind)))
    assert kinds == ["order_cancelled", "order_confirmed"]
    text = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "order_cancelled")).one()
    assert "ご注文を取り消しました" in text.payload["messages"][0]["text"]


def test_cancel_after_cutoff_is_refused(session: Session, setup) -> None:  # type: ignore[no-untyped-def]
    order = order_for(session, setup, ("daikon", 1))
    with pytest.raises(OrderError) as caught:
        cancel_order(session, order_id=order.id, actor="resident", channel="line", now=CUTOFF)
    assert caught.value.code == "past_cutoff"
    # One minute before is fine.
    result = cancel_order(session, order_id=order.id, actor="resident", channel="line",
                          now=CUTOFF - timedelta(minutes=1))
    assert not result.already_cancelled


def test_another_residents_order_is_refused_like_a_missing_one(session: Session, setup) -> None:  # type: ignore[no-untyped-def]
    order = order_for(session, setup, ("daikon", 1))
    with pytest.raises(OrderError) as theirs:
        cancel_order(session, order_id=order.id, actor="x", channel="line", now=NOW,
                     resident_id=setup["other"])
    with pytest.raises(OrderError) as missing:
        cancel_order(session, order_id=order.id + 1000, actor="x", channel="line", now=NOW)
    assert theirs.value.code == "not_your_order" and missing.value.code == "unknown_order"
    assert theirs.value.message == missing.value.message
    with pytest.raises(OrderError):
        change_order(session, order_id=order.id, items=[LineItem(setup["daikon"], 5)], actor="x",
                     channel="line", now=NOW, resident_id=setup["other"])
    with pytest.raises(OrderError):
        get_order(session, order_id=order.id, resident_id=setup["other"])
    session.commit()
    assert stock_of(session, setup, "daikon") == [9]
    assert session.get(Order, order.id).status is OrderStatus.CONFIRMED  # type: ignore[union-attr]


def test_picked_order_cannot_be_cancelled(session: Session, setup) -> None:  # type: ignore[no-untyped-def]
    order = order_for(session, setup, ("daikon", 1))
    order.status = OrderStatus.PICKED
    session.commit()
    with pytest.raises(OrderError) as caught:
        cancel_order(session, order_id=order.id, actor="x", channel="line", now=NOW)
    assert caught.value.code == "not_changeable"
    assert stock_of(session, setup, "daikon") == [9]


def test_change_moves_only_the_difference_and_keeps_snapshot_prices(session: Session, setup) -> None:  # type: ignore[no-untyped-def]
    order = order_for(session, setup, ("daikon", 2), ("apple", 3))
    assert stock_of(session, setup, "daikon", "apple", "egg") == [8, 0, 4]
    session.get(Product, setup["daikon"]).price_yen = 500  # type: ignore[union-attr]
    session.commit()
    # Keep all three apples (none left in stock, but they are already ours), one more daikon, add eggs.
    changed = change_order(session, order_id=order.id, actor="resident", channel="line", now=NOW,
                           items=[LineItem(setup["daikon"], 3), LineItem(setup["apple"], 3),
                                  LineItem(setup["egg"], 2), LineItem(setup["bread"], 1)])
    session.commit()
    assert stock_of(session, setup, "daikon", "apple", "egg") == [7, 0, 2]
    assert [(l.name, l.quantity, l.unit_price_yen) for l in changed.lines] == [
        ("大根", 3, 150), ("りんご", 3, 120), ("卵", 2, 250), ("食パン", 1, 300)]
    assert changed.subtotal_yen == 450 + 360 + 500 + 300 and changed.total_yen == changed.subtotal_yen + 100
    # Smaller: give back exactly the difference.
    change_order(session, order_id=order.id, actor="resident", channel="line", now=NOW,
                 items=[LineItem(setup["apple"], 1)])
    session.commit()
    assert stock_of(session, setup, "daikon", "apple", "egg") == [10, 2, 4]
    for name, initial in (("daikon", 10), ("apple", 3), ("egg", 4)):
        assert ledger_balances(session, setup[name], initial)
    # Cancelling afterwards returns what the order still holds, no more.
    cancel_order(session, order_id=order.id, actor="resident", channel="line", now=NOW)
    session.commit()
    assert stock_of(session, setup, "daikon", "apple", "egg") == [10, 3, 4]
    assert len(session.scalars(select(OutboxMessage.id).where(OutboxMessage.kind == "order_changed")).all()) == 2


def test_change_with_a_sold_out_item_changes_nothing(session: Session, setup) -> None:  # type: ignore[no-untyped-def]
    order = order_for(session, setup, ("daikon", 2), ("egg", 1))
    with pytest.raises(OrderError) as caught:
        change_order(session, order_id=order.id, actor="resident", channel="line", now=NOW,
                     items=[LineItem(setup["daikon"], 1), LineItem(setup["egg"], 5)])
    assert caught.value.code == "sold_out" and "卵" in caught.value.message
    session.commit()  # the caller commits its own work; the failed change left none
    assert stock_of(session, setup, "daikon", "egg") == [8, 3]
    session.expire_all()
    kept = session.get(Order, order.id)
    assert [(l.product_id, l.quantity) for l in kept.lines] == [(setup["daikon"], 2), (setup["egg"], 1)]  # type: ignore[union-attr]


def test_change_after_cutoff_or_to_an_empty_basket_is_refused(session: Session, setup) -> None:  # type: ignore[no-untyped-def]
    order = order_for(session, setup, ("daikon", 2))
    with pytest.raises(OrderError) as late:
        change_order(session, order_id=order.id, items=[LineItem(setup["daikon"], 1)], actor="x",
                     channel="line", now=CUTOFF + timedelta(minutes=1))
    with pytest.raises(OrderError) as empty:
        change_order(session, order_id=order.id, items=[], actor="x", channel="line", now=NOW)
    assert (late.value.code, empty.value.code) == ("past_cutoff", "empty_basket")
    cancel_order(session, order_id=order.id, actor="x", channel="line", now=NOW)
    with pytest.raises(OrderError) as cancelled:
        change_order(session, order_id=order.id, items=[LineItem(setup["daikon"], 1)], actor="x",
                     channel="line", now=NOW)
    assert cancelled.value.code == "not_changeable"
