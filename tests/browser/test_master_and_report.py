"""The coordinator's master-data pages and the daily report in the browser: edit a shop and one of its
products (and see the stock save refused, in Japanese, when orders came in while the page was open),
edit a district (a window row added, refused for its overlap, then removed), open the report with its chart and download its CSV. Every page goes through
``Screens.check`` (375 px without sideways scrolling, 44 px tap targets, 16 px text).

The edits touch only fields no other browser test reads (a shop's phone, a product's price and stock,
a district's fee, all away from 中央), since the tests share one seeded database.
Runs on the pass's database (see tests/browser/conftest.py): SQLite file or PostgreSQL."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from accounts.models import Account
from core.db import db
from orders.models import District
from shops import service
from shops.models import Product, Shop
from tests.browser.conftest import DELIVERY_DAY, NOW, Live, Screens
from tests.browser.support import SHOP, sign_in_coordinator

pytestmark = pytest.mark.browser


def _shop_and_product(live: Live) -> tuple[int, str, int, str]:
    """A shop the demo shop account does not own, and one of its products with counted stock."""
    with db.reading(live.app) as session:
        own = session.scalar(select(Account.shop_id).where(Account.email == SHOP))
        for shop in session.scalars(select(Shop).where(Shop.id != own).order_by(Shop.id.desc())):
            for product in sorted(shop.products, key=lambda p: p.id):
                if product.stock is not None and product.stock >= 2:
                    return shop.id, shop.name, product.id, product.name
    raise AssertionError("no demo shop with a counted product")


def test_a_coordinator_edits_a_shop_and_a_product(page: Any, live: Live, screens: Screens) -> None:
    shop_id, shop_name, product_id, product_name = _shop_and_product(live)
    sign_in_coordinator(page, live)
    page.get_by_role("link", name=re.compile("基本データ")).click()
    page.wait_for_url(re.compile(r"/staff/master/$"))
    screens.check(page, "master")
    page.get_by_role("link", name="お店・直売所と商品").click()
    page.wait_for_url(re.compile(r"/staff/master/shops$"))
    screens.check(page, "shops")

    # the shop: a new phone number
    page.locator(f"a[href$='/staff/master/shops/{shop_id}']").click()
    page.wait_for_url(re.compile(rf"/staff/master/shops/{shop_id}$"))
    assert page.get_by_label("名前").input_value() == shop_name
    screens.check(page, "shop")
    page.get_by_label("電話番号").fill("0238-00-9999")
    page.get_by_role("button", name="保存する").click()
    page.wait_for_url(re.compile(r"/staff/master/shops$"))
    assert f"お店「{shop_name}」を保存しました。" in page.locator("body").inner_text()
    with db.reading(live.app) as session:
        assert session.get(Shop, shop_id).phone == "+81238009999"     # as the picking-list SMS dials it
    assert "0238009999" in page.locator("body").inner_text()          # and listed as dialled

    # its product: a new price and stock
    page.locator(f"a[href$='/staff/master/shops/{shop_id}/products']").first.click()
    page.wait_for_url(re.compile(rf"/staff/master/shops/{shop_id}/products$"))
    screens.check(page, "products")
    page.locator(f"a[href$='/products/{product_id}']").click()
    page.wait_for_url(re.compile(rf"/products/{product_id}$"))
    assert page.get_by_label("商品名").input_value() == product_name
    screens.check(page, "product")
    stock = int(page.get_by_label("在庫の数").input_value())
    page.get_by_label("値段").fill("321")
    page.get_by_label("在庫の数").fill(str(stock + 5))
    page.get_by_role("button", name="保存する").click()
    page.wait_for_url(re.compile(rf"/staff/master/shops/{shop_id}/products$"))
    assert f"商品「{product_name}」を保存しました。" in page.locator("body").inner_text()
    with db.reading(live.app) as session:
        saved = session.get(Product, product_id)
        assert (saved.price_yen, saved.stock) == (321, stock + 5)
    screens.check(page, "products-saved")

    # the page stays open while an order takes two (LINE); saving its stock then is refused, in Japanese,
    # and the form shows the stock as it is now
    page.locator(f"a[href$='/products/{product_id}']").click()
    page.wait_for_url(re.compile(rf"/products/{product_id}$"))
    with db.transaction(live.app) as session:
        service.adjust_stock(session, product_id=product_id, delta=-2, actor="browser-test", channel="line", now=NOW)
    page.get_by_label("在庫の数").fill("50")
    with page.expect_response(re.compile(rf"/products/{product_id}$")) as answer:
        page.get_by_role("button", name="保存する").click()
    assert answer.value.status == 409
    assert "在庫の数がほかで変わりました" in page.locator("p.warn").inner_text()
    assert page.get_by_label("在庫の数").input_value() == str(stock + 3)
    screens.check(page, "product-stale-stock")
    with db.reading(live.app) as session:
        assert session.get(Product, product_id).stock == stock + 3
    screens.assert_clean()


def test_a_coordinator_edits_a_district(page: Any, live: Live, screens: Screens) -> None:
    with db.reading(live.app) as session:
        district = session.scalars(select(District).where(District.code != "chuo").order_by(District.id.desc())).first()
        district_id, name, fee = district.id, district.name, district.fee_yen
    sign_in_coordinator(page, live)
    page.goto("/staff/master/")
    page.get_by_role("link", name=re.compile("^地区")).click()
    page.wait_for_url(re.compile(r"/staff/master/districts$"))
    screens.check(page, "districts")
    page.locator(f"a[href$='/staff/master/districts/{district_id}']").click()
    page.wait_for_url(re.compile(rf"/staff/master/districts/{district_id}$"))
    assert page.get_by_label("名前", exact=True).input_value() == name
    screens.check(page, "district")
    # A window row added without JavaScript, overlapping the first: refused on its row, nothing saved.
    rows = page.locator("fieldset.window-row").count()
    page.get_by_role("button", name="時間帯の行を追加").click()
    assert page.locator("fieldset.window-row").count() == rows + 1
    blank = rows - 1                       # the form showed one blank row; now there are two
    page.get_by_label(f"{blank + 1}行目の記号").fill("md")
    page.get_by_label(f"{blank + 1}行目の時間帯の名前").fill("昼")
    page.get_by_label(f"{blank + 1}行目の開始").fill("11:00")
    page.get_by_label(f"{blank + 1}行目の終了").fill("14:00")
    page.get_by_role("button", name="保存する").click()
    bad_row = page.locator("fieldset.window-row").nth(blank)
    assert "時間が重なっています" in bad_row.inner_text()
    screens.check(page, "district-bad-window")
    bad_row.get_by_label("この時間帯を削除").check()
    page.get_by_label("配達料（円）").fill(str(fee + 50))
    page.get_by_role("button", name="保存する").click()
    page.wait_for_url(re.compile(r"/staff/master/districts$"))
    assert f"地区「{name}」を保存しました。" in page.locator("body").inner_text()
    with db.reading(live.app) as session:
        saved = session.get(District, district_id)
        assert saved.fee_yen == fee + 50 and "md" not in [w["code"] for w in saved.windows]
    screens.check(page, "districts-saved")
    screens.assert_clean()


def test_a_coordinator_opens_the_report_and_downloads_its_csv(page: Any, live: Live, screens: Screens) -> None:
    sign_in_coordinator(page, live)
    page.get_by_role("link", name=re.compile("日報")).click()
    page.wait_for_url(re.compile(r"/staff/report"))
    screens.check(page, "report")
    # a range that takes in tomorrow's planned runs
    page.get_by_label("終わりの日").fill(DELIVERY_DAY.isoformat())
    page.get_by_role("button", name="表示する").click()
    page.wait_for_url(re.compile(rf"to={DELIVERY_DAY.isoformat()}"))
    assert f"{DELIVERY_DAY.month}/{DELIVERY_DAY.day}（" in page.locator("h2").first.inner_text()
    chart = page.locator("#orders-chart svg")
    assert chart.get_attribute("aria-label") == "日ごとの注文（お届け済み・取り消し）"
    box = chart.bounding_box()
    assert box is not None and box["width"] > 200 and box["x"] + box["width"] <= 375
    first = page.get_by_label("始めの日").input_value()
    days = (DELIVERY_DAY - date.fromisoformat(first)).days + 1
    assert chart.locator("g > title").count() == days     # one bar per day, its numbers in a tooltip
    assert page.locator("#runs tr").count() > 1          # tomorrow's runs, one row each
    screens.check(page, "report-range")

    with page.expect_download() as download:
        page.get_by_role("link", name="CSVで書き出す（Excel用）").click()
    got = download.value
    assert got.suggested_filename == f"report-{first}-{DELIVERY_DAY.isoformat()}.csv"
    data = Path(got.path()).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")               # UTF-8 with a BOM, for Excel
    text = data.decode("utf-8-sig")
    assert text.splitlines()[0] == "■日別" and "■便別" in text and DELIVERY_DAY.isoformat() in text
    screens.assert_clean()
