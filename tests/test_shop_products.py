"""The shop's product page (/shop/products) through the real app, signed in as a shop account: ＋/－ through
the guarded delta (never below zero, a concurrent order kept), the absolute field as a compare-and-set,
price, 売り切れ / 販売を再開, each a ledger movement and an audit entry as from LINE; another shop's
product is 404 for every change; 商品を追加 with a photo checked and re-encoded by Pillow."""

from __future__ import annotations

import io
import re
from datetime import datetime
from pathlib import Path

from PIL import Image
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from core.clock import JST
from core.db import db
from orders.service import LineItem, place_order
from shops.models import Product, StockMovement
from tests.factories import make_district, make_resident
from tests.shop_support import (Shops, audit_actions, flashes, ledger_sum, post, product, shop_client,  # noqa: F401
                                shops, token)


def test_the_page_lists_only_my_products_with_stable_controls(shop_client, shops: Shops) -> None:
    page = shop_client.get("/shop/products").get_data(as_text=True)
    assert "大根" in page and "りんご" in page and "食パン" in page
    assert "白菜" not in page and "本町商店" not in page
    for element in (f'id="plus-{shops.daikon}"', f'id="minus-{shops.daikon}"', f'id="stock-{shops.daikon}"',
                    f'id="set-{shops.daikon}"', f'id="price-{shops.daikon}"', f'id="soldout-{shops.daikon}"'):
        assert element in page
    assert f'id="plus-{shops.bread}"' not in page         # an uncounted product has nothing to add to
    forms = re.findall(r"<form[^>]*method=\"post\".*?</form>", page, flags=re.S)
    assert len(forms) == 4 + 4 + 3 + 1 and all('name="csrf_token"' in form for form in forms)   # + ログアウト


def test_plus_and_minus_are_relative_and_recorded_like_line(app, shop_client, shops: Shops) -> None:
    assert post(shop_client, f"/shop/products/{shops.daikon}/adjust", sign="+", amount="5").status_code == 302
    assert "いまの在庫は25本です" in flashes(shop_client)
    post(shop_client, f"/shop/products/{shops.daikon}/adjust", sign="-", amount="２")      # full-width digit
    post(shop_client, f"/shop/products/{shops.daikon}/adjust", sign="+")                   # 1 by default
    assert product(app, shops.daikon).stock == 24
    assert 20 + ledger_sum(app, shops.daikon) == 24
    assert audit_actions(app, shops.daikon) == ["stock.adjust"] * 3
    with db.reading(app) as s:
        actors = set(s.scalars(select(StockMovement.actor).where(StockMovement.product_id == shops.daikon)))
    assert len(actors) == 1 and next(iter(actors)).startswith("account:")


def test_minus_never_goes_below_zero(app, shop_client, shops: Shops) -> None:
    response = post(shop_client, f"/shop/products/{shops.daikon}/adjust", sign="-", amount="21")
    assert response.status_code == 302
    assert "在庫がマイナスになるため、変更できません" in flashes(shop_client)
    assert product(app, shops.daikon).stock == 20 and ledger_sum(app, shops.daikon) == 0
    post(shop_client, f"/shop/products/{shops.daikon}/adjust", sign="-", amount="20")
    assert product(app, shops.daikon).stock == 0


def test_a_stale_absolute_value_does_not_wipe_out_an_order(app, session, shop_client, shops: Shops) -> None:
    page = shop_client.get("/shop/products").get_data(as_text=True)
    assert f'name="expected" value="20"' in page
    # A resident orders 3 while the shop's page is open showing 20.
    district = make_district(session)
    resident = make_resident(session, district)
    session.commit()
    place_order(session, resident_id=resident.id, items=[LineItem(shops.daikon, 3)], placed_by="test",
                channel="line", now=datetime(2026, 12, 1, 8, 0, tzinfo=JST))
    session.commit()
    post(shop_client, f"/shop/products/{shops.daikon}/stock", stock="30", expected="20")
    assert "在庫の数がほかで変わりました" in flashes(shop_client)
    assert product(app, shops.daikon).stock == 17
    # With the number the page now shows, the set goes through.
    post(shop_client, f"/shop/products/{shops.daikon}/stock", stock="30", expected="17")
    assert product(app, shops.daikon).stock == 30
    assert 20 + ledger_sum(app, shops.daikon) == 30
    assert "stock.set" in audit_actions(app, shops.daikon)


def test_a_concurrent_plus_is_not_lost(app, session, shop_client, shops: Shops) -> None:
    """Two ＋5 from two phones (the second page never reloaded): both count, as deltas."""
    other = shop_client.application.test_client()
    from tests.accounts_support import sign_in
    sign_in(other, "shop", email="midori2@test.example", shop_id=shops.mine)
    first, second = token(shop_client), token(other)
    shop_client.post(f"/shop/products/{shops.apple}/adjust", data={"sign": "+", "amount": "5", "csrf_token": first})
    other.post(f"/shop/products/{shops.apple}/adjust", data={"sign": "+", "amount": "5", "csrf_token": second})
    assert product(app, shops.apple).stock == 40


def test_price_sold_out_and_back(app, shop_client, shops: Shops) -> None:
    post(shop_client, f"/shop/products/{shops.apple}/price", price="120")
    assert product(app, shops.apple).price_yen == 120
    post(shop_client, f"/shop/products/{shops.apple}/price", price="-1")
    assert "値段は0円から100000円まで" in flashes(shop_client) and product(app, shops.apple).price_yen == 120
    post(shop_client, f"/shop/products/{shops.apple}/price", price="abc")
    assert "値段は数字で入れてください" in flashes(shop_client)

    post(shop_client, f"/shop/products/{shops.apple}/sold-out")
    assert product(app, shops.apple).stock == 0 and 30 + ledger_sum(app, shops.apple) == 0
    page = flashes(shop_client)
    assert "りんごを売り切れにしました" in page and f'id="back-{shops.apple}"' in page
    post(shop_client, f"/shop/products/{shops.apple}/back", received="12")
    after = product(app, shops.apple)
    assert (after.stock, after.available) == (12, True) and 30 + ledger_sum(app, shops.apple) == 12

    post(shop_client, f"/shop/products/{shops.bread}/sold-out")       # uncounted: off sale instead
    assert product(app, shops.bread).available is False
    assert "お休み" in flashes(shop_client)
    post(shop_client, f"/shop/products/{shops.bread}/back")
    assert product(app, shops.bread).available is True
    # 売り切れ is a set to 0 (the product stays on sale, at 0); 再開 with 12 is a guarded ＋12.
    assert audit_actions(app, shops.apple) == ["product.price", "stock.set", "stock.adjust"]
    assert audit_actions(app, shops.bread) == ["stock.available", "stock.available"]


def test_another_shops_product_is_404_for_every_change(app, shop_client, shops: Shops) -> None:
    for action, data in (("adjust", {"sign": "-", "amount": "1"}), ("stock", {"stock": "0", "expected": "8"}),
                         ("price", {"price": "1"}), ("sold-out", {}), ("back", {"received": "1"})):
        response = post(shop_client, f"/shop/products/{shops.cabbage}/{action}", **data)
        assert response.status_code == 404, action
        assert post(shop_client, f"/shop/products/999999/{action}", **data).status_code == 404
    cabbage = product(app, shops.cabbage)
    assert (cabbage.stock, cabbage.price_yen, cabbage.available) == (8, 200, True)
    assert ledger_sum(app, shops.cabbage) == 0 and audit_actions(app, shops.cabbage) == []


def test_forms_without_the_csrf_token_are_refused(app, shop_client, shops: Shops) -> None:
    for url in (f"/shop/products/{shops.daikon}/adjust", f"/shop/products/{shops.daikon}/stock",
                f"/shop/products/{shops.daikon}/price", f"/shop/products/{shops.daikon}/sold-out",
                f"/shop/products/{shops.daikon}/back", "/shop/products/new", "/shop/import", "/shop/import/apply"):
        response = shop_client.post(url, data={"sign": "+", "amount": "1", "stock": "1", "price": "1"})
        assert response.status_code == 400, url
    assert product(app, shops.daikon).stock == 20 and product(app, shops.daikon).price_yen == 150


def _image(kind: str, size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format=kind)
    return out.getvalue()


def _new(client, photo: tuple[bytes, str] | None = None, **fields):  # type: ignore[no-untyped-def]
    data = {"name": "ねぎ", "kana": "ねぎ", "unit": "束", "price": "180", "stock": "12", "category": "野菜",
            "csrf_token": token(client, "/shop/products/new")}
    data.update(fields)
    if photo is not None:
        data["photo"] = FileStorage(io.BytesIO(photo[0]), filename=photo[1], content_type="image/jpeg")
    # Encoded here in memory: the test client spools a body over 500 KB to a temporary file it never closes.
    boundary, body = encode_multipart(data)
    return client.post("/shop/products/new", data=body, content_type=f"multipart/form-data; boundary={boundary}")


def test_add_a_product_with_a_photo(app, shop_client, shops: Shops) -> None:
    response = _new(shop_client, photo=(_image("PNG"), "negi.png"))
    assert response.status_code == 302
    with db.reading(app) as s:
        negi = s.scalars(select(Product).where(Product.name == "ねぎ")).one()
        negi_id, shop_id, stock, photo_url = negi.id, negi.shop_id, negi.stock, negi.photo_url
    assert (shop_id, stock) == (shops.mine, 12) and ledger_sum(app, negi_id) == 12
    assert audit_actions(app, negi_id) == ["product.add"]
    assert photo_url.startswith(app.config["PUBLIC_BASE_URL"].rstrip("/") + "/photos/")
    name = photo_url.rsplit("/", 1)[1]
    stored = Path(app.config["PHOTO_FOLDER"]) / name
    assert stored.is_file()
    with Image.open(stored) as image:
        assert image.format == "JPEG"                   # re-encoded, whatever came in
    served = shop_client.get(f"/photos/{name}")
    assert served.status_code == 200 and served.mimetype == "image/jpeg" and served.data == stored.read_bytes()
    served.close()
    anonymous = app.test_client().get(f"/photos/{name}")       # a public catalogue picture
    assert anonymous.status_code == 200
    anonymous.close()
    assert "ねぎ" in flashes(shop_client)


def test_a_photo_of_the_wrong_kind_or_size_is_refused(app, shop_client, shops: Shops) -> None:
    folder = Path(app.config["PHOTO_FOLDER"])
    refused = _new(shop_client, photo=(_image("GIF"), "negi.jpg"))
    assert refused.status_code == 400 and "JPEG か PNG" in refused.get_data(as_text=True)
    refused = _new(shop_client, photo=(b"<?php echo 1; ?>" * 10, "negi.jpg"))
    assert refused.status_code == 400 and "JPEG か PNG" in refused.get_data(as_text=True)
    big = _new(shop_client, photo=(b"\xff\xd8\xff" + b"0" * (2 * 1024 * 1024), "big.jpg"))
    assert big.status_code == 400 and "2MBまで" in big.get_data(as_text=True)
    with db.reading(app) as s:
        assert s.scalars(select(Product).where(Product.name == "ねぎ")).all() == []
    assert not folder.exists() or list(folder.iterdir()) == []


def test_a_new_product_form_with_mistakes_says_what_and_adds_nothing(app, shop_client, shops: Shops) -> None:
    for fields, message in (({"name": ""}, "商品名を入れてください"), ({"kana": ""}, "よみがなを入れてください"),
                            ({"price": "百"}, "値段は数字で"), ({"stock": "-3"}, "在庫の数は0から99999"),
                            ({"name": "大根"}, "同じ名前の商品がもうあります")):
        response = _new(shop_client, **fields)
        assert response.status_code == 400 and message in response.get_data(as_text=True), fields
    with db.reading(app) as s:
        assert len(s.scalars(select(Product).where(Product.shop_id == shops.mine)).all()) == 3
    # Without a stock number the product is not counted.
    assert _new(shop_client, name="おにぎり", kana="おにぎり", unit="個", stock="").status_code == 302
    with db.reading(app) as s:
        assert s.scalars(select(Product.stock).where(Product.name == "おにぎり")).one() is None


def test_the_photo_route_serves_only_names_the_upload_wrote(client) -> None:
    for name in ("..%2Fotodoke.db", "otodoke.db", "1-abc.jpg", "1-" + "0" * 32 + ".png"):
        assert client.get(f"/photos/{name}").status_code == 404


def test_home_links_every_shop_page_and_the_picking_list_prints(shop_client, shops: Shops) -> None:
    page = shop_client.get("/shop/").get_data(as_text=True)
    for link in ("/shop/products", "/shop/products/new", "/shop/products.csv", "/shop/import", "/shop/sales",
                 "/shop/picking/2026-12-01", "/shop/picking/2026-12-02"):
        assert f'href="{link}"' in page, link
    assert "今日" in page and "明日" in page
    picking = shop_client.get("/shop/picking/2026-12-02").get_data(as_text=True)
    assert 'id="print"' in picking and "data-print" in picking
