"""Sales per day / week on the shop's page: delivered orders only, quantities and yen per product, only
the signed-in shop's lines."""

from __future__ import annotations

from datetime import date, datetime

from core.clock import JST
from orders.models import Order, OrderStatus
from orders.service import LineItem, place_order
from tests.factories import make_district, make_resident
from tests.shop_support import Shops, shop_client, shops  # noqa: F401


def test_sales_count_delivered_orders_only(app, session, shop_client, shops: Shops) -> None:
    district = make_district(session)
    people = [make_resident(session, district) for _ in range(3)]
    session.commit()
    ids = []
    for resident, qty in zip(people, (2, 3, 5)):
        ids.append(place_order(session, resident_id=resident.id, placed_by="test", channel="line",
                               items=[LineItem(shops.daikon, qty), LineItem(shops.cabbage, 1)],
                               now=datetime(2026, 12, 1, 8, 0, tzinfo=JST)).id)
    session.commit()
    # Two delivered (the driver's 配達完了), one not at home: that is no sale.
    for order_id, status in zip(ids, (OrderStatus.DELIVERED, OrderStatus.DELIVERED, OrderStatus.NOT_AT_HOME)):
        session.get(Order, order_id).status = status
    session.commit()
    delivered_on = session.get(Order, ids[0]).delivery_date
    assert delivered_on == date(2026, 12, 1)
    page = shop_client.get("/shop/sales").get_data(as_text=True)
    assert 'id="sales-2026-12-01"' in page
    assert "5本" in page and "750円" in page              # 2 + 3 大根 at 150円
    assert "白菜" not in page                               # another shop's line in the same orders
    assert "8本" not in page
    week = shop_client.get("/shop/sales?by=week").get_data(as_text=True)
    assert 'id="sales-2026-11-30"' in week and "750円" in week     # the week from Monday 11/30
