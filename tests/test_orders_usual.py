"""「いつもの」 reorder, the resident's order status, and batching a day's orders for planning."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from orders.errors import OrderError
from orders.models import OrderStatus
from orders.service import (LineItem, batch_orders, batch_totals, cancel_order, get_order, order_status, place_order,
                            reorder_usual, usual_basket)
from core.clock import JST
from shops.models import Product
from tests.factories import make_district, make_outer_district, make_product, make_resident, make_shop

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=JST)


def order(session: Session, resident_id: int, items: dict[int, int], now: datetime = NOW, **kw: object):  # type: ignore[no-untyped-def]
    placed = place_order(session, resident_id=resident_id, placed_by="r", channel="line", now=now,
                         items=[LineItem(p, q) for p, q in items.items()], **kw)  # type: ignore[arg-type]
    session.commit()
    return placed


@pytest.fixture
def shop_products(session: Session) -> dict[str, int]:
    shop = make_shop(session)
    ids = {
        "daikon": make_product(session, shop, stock=50).id,
        "milk": make_product(session, shop, name="牛乳", kana="ぎゅうにゅう", unit="本", price_yen=230, stock=50).id,
        "tofu": make_product(session, shop, name="豆腐", kana="とうふ", unit="丁", price_yen=120, stock=50).id,
        "natto": make_product(session, shop, name="納豆", kana="なっとう", unit="パック", price_yen=100, stock=50).id,
    }
    session.commit()
    return ids


def test_usual_is_the_most_frequent_basket_repriced_with_sold_out_items_named(
        session: Session, shop_products: dict[str, int]) -> None:
    p = shop_products
    resident = make_resident(session)
    session.commit()
    usual = {p["milk"]: 2, p["tofu"]: 1, p["natto"]: 3}
    for day in range(3):
        order(session, resident.id, usual, NOW - timedelta(days=10 - day))
    order(session, resident.id, {p["daikon"]: 1}, NOW - timedelta(days=2))   # the last one, but rarer
    cancelled = order(session, resident.id, {p["daikon"]: 9})
    cancel_order(session, order_id=cancelled.id, actor="r", channel="line", now=NOW)
    # Today: milk costs more, natto is sold out.
    session.get(Product, p["milk"]).price_yen = 250  # type: ignore[union-attr]
    session.get(Product, p["natto"]).stock = 0  # type: ignore[union-attr]
    session.commit()

    basket = usual_basket(session, resident_id=resident.id, now=NOW)
    assert basket.items == (LineItem(p["milk"], 2), LineItem(p["tofu"], 1))
    assert [(s.name, s.reason) for s in basket.skipped] == [("納豆", "売り切れです")]
    assert basket.quote is not None and basket.quote.subtotal_yen == 2 * 250 + 120

    placed, skipped = reorder_usual(session, resident_id=resident.id, placed_by="r", channel="line",
                                    now=NOW, idempotency_key="usual-1")
    session.commit()
    assert [(l.name, l.quantity, l.unit_price_yen) for l in placed.lines] == [("牛乳", 2, 250), ("豆腐", 1, 120)]
    assert [s.product_id for s in skipped] == [p["natto"]]
    again, _ = reorder_usual(session, resident_id=resident.id, placed_by="r", channel="line", now=NOW,
                             idempotency_key="usual-1")
    assert again.id == placed.id


def test_ties_go_to_the_most_recent_and_a_single_order_is_the_usual(session: Session,
                                                                    shop_products: dict[str, int]) -> None:
    p = shop_products
    resident = make_resident(session)
    session.commit()
    order(session, resident.id, {p["milk"]: 1}, NOW - timedelta(days=3))
    order(session, resident.id, {p["tofu"]: 1}, NOW - timedelta(days=2))
    assert usual_basket(session, resident_id=resident.id, now=NOW).items == (LineItem(p["tofu"], 1),)


def test_partly_available_stock_is_reported(session: Session, shop_products: dict[str, int]) -> None:
    p = shop_products
    resident = make_resident(session)
    session.commit()
    order(session, resident.id, {p["milk"]: 3, p["tofu"]: 1})
    session.get(Product, p["milk"]).stock = 2  # type: ignore[union-attr]
    session.get(Product, p["tofu"]).available = False  # type: ignore[union-attr]
    session.commit()
    basket = usual_basket(session, resident_id=resident.id, now=NOW)
    assert basket.items == () and basket.quote is None
    assert [s.reason for s in basket.skipped] == ["残り2本のため売り切れです", "ただいまお取り扱いしていません"]
    with pytest.raises(OrderError) as caught:
        reorder_usual(session, resident_id=resident.id, placed_by="r", channel="line", now=NOW)
    assert caught.value.code == "sold_out" and "売り切れ" in caught.value.message and "牛乳" in caught.value.message


def test_no_history(session: Session) -> None:
    resident = make_resident(session)
    session.commit()
    basket = usual_basket(session, resident_id=resident.id, now=NOW)
    assert basket.items == () and basket.skipped == () and basket.quote is None
    with pytest.raises(OrderError) as caught:
        reorder_usual(session, resident_id=resident.id, placed_by="r", channel="line", now=NOW)
    assert caught.value.code == "no_usual_order"


def test_order_status_lists_today_and_later_with_labels(session: Session, shop_products: dict[str, int]) -> None:
    p = shop_products
    resident = make_resident(session)
    session.commit()
    old = order(session, resident.id, {p["milk"]: 1}, NOW - timedelta(days=7))
    today = order(session, resident.id, {p["milk"]: 2})
    tomorrow = order(session, resident.id, {p["tofu"]: 1}, NOW + timedelta(hours=3))
    views = order_status(session, resident_id=resident.id, now=NOW + timedelta(hours=3))
    assert [v.order_id for v in views] == [today.id, tomorrow.id]
    first, second = views
    assert first.status_label == "注文確定" and first.delivery_date_label == "12月1日（火）"
    assert first.window_label == "午後" and (first.window_start, first.window_end) == ("13:00", "17:00")
    assert not first.changeable            # 11:00, past today's 10:00 cutoff
    assert second.changeable and second.delivery_date == date(2026, 12, 2)
    assert [(l.name, l.quantity) for l in first.lines] == [("牛乳", 2)]
    assert first.total_yen == 2 * 230 + 100
    assert old.id not in [v.order_id for v in views]


def test_get_order_checks_the_owner(session: Session, shop_products: dict[str, int]) -> None:
    resident, other = make_resident(session), make_resident(session)
    session.commit()
    placed = order(session, resident.id, {shop_products["milk"]: 1})
    assert get_order(session, order_id=placed.id, resident_id=resident.id).id == placed.id
    assert get_order(session, order_id=placed.id).id == placed.id    # staff: no owner check
    for kwargs in ({"order_id": placed.id, "resident_id": other.id}, {"order_id": 10**9}, {"order_id": "1"}):
        with pytest.raises(OrderError) as caught:
            get_order(session, **kwargs)  # type: ignore[arg-type]
        assert caught.value.message == "そのご注文は見つかりませんでした。"


def test_batch_orders_groups_confirmed_orders_by_district_and_window(session: Session,
                                                                      shop_products: dict[str, int]) -> None:
    milk = shop_products["milk"]
    central = make_district(session, name="中央")
    outer = make_outer_district(session, name="伊佐沢")
    c1, c2 = make_resident(session, central), make_resident(session, central)
    o_am, o_pm = make_resident(session, outer, preferred_window="am"), make_resident(session, outer, preferred_window="pm")
    session.commit()
    tuesday = datetime(2026, 12, 7, 12, 0, tzinfo=JST)   # Monday noon: both deliver Tuesday 12-08
    placed = {
        "c1": order(session, c1.id, {milk: 1}, tuesday),
        "o_pm": order(session, o_pm.id, {milk: 1}, tuesday),
        "o_am": order(session, o_am.id, {milk: 1}, tuesday),
        "c2": order(session, c2.id, {milk: 2}, tuesday),
        "gone": order(session, c2.id, {milk: 1}, tuesday),
    }
    cancel_order(session, order_id=placed["gone"].id, actor="r", channel="line", now=tuesday)
    order(session, c1.id, {milk: 1}, datetime(2026, 12, 8, 11, 0, tzinfo=JST))  # for Wednesday
    session.commit()

    batches = batch_orders(session, delivery_date=date(2026, 12, 8))
    summary = [(b.district_name, b.window_code, b.window_start, b.window_end, [o.id for o in b.orders])
               for b in batches]
    assert summary == [
        ("中央", "pm", "13:00", "17:00", [placed["c1"].id, placed["c2"].id]),
        ("伊佐沢", "am", "09:00", "12:00", [placed["o_am"].id]),
        ("伊佐沢", "pm", "13:00", "17:00", [placed["o_pm"].id]),
    ]
    assert all(o.status is OrderStatus.CONFIRMED for b in batches for o in b.orders)
    assert batches[0].orders[1].lines[0].quantity == 2 and batches[0].orders[0].resident.lat is not None
    assert batch_orders(session, delivery_date=date(2026, 12, 10)) == []
    # the dashboard's counts and sums: the same groups in the same order, without the orders
    totals = batch_totals(session, delivery_date=date(2026, 12, 8))
    assert [(t.district_id, t.district_name, t.window_code, t.window_start, t.window_end, t.order_count,
             t.total_yen) for t in totals] == [
        (b.district_id, b.district_name, b.window_code, b.window_start, b.window_end, len(b.orders),
         sum(o.total_yen for o in b.orders)) for b in batches]
    assert [t.order_count for t in totals] == [2, 1, 1] and totals[0].total_yen > totals[1].total_yen > 0
    assert batch_totals(session, delivery_date=date(2026, 12, 10)) == []
