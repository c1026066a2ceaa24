"""CSV export and import with preview on the shop's pages, and a Hypothesis property of the reader:
arbitrary text never raises (only row errors), and an exported file reads back with no change."""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from shops import csv_io
from shops.products import ShopProduct
from tests.shop_support import Shops, audit_actions, ledger_sum, product, shop_client, shops, token  # noqa: F401


def _upload(client, data: bytes):  # type: ignore[no-untyped-def]
    fields = {"csrf_token": token(client, "/shop/import"),
              "file": FileStorage(io.BytesIO(data), filename="p.csv", content_type="text/csv")}
    boundary, body = encode_multipart(fields)
    return client.post("/shop/import", data=body, content_type=f"multipart/form-data; boundary={boundary}")


def _apply(client, page: str):  # type: ignore[no-untyped-def]
    import html
    import re
    text = html.unescape(re.search(r'name="text" value="([^"]*)"', page, re.S).group(1))
    digest = re.search(r'name="digest" value="([^"]+)"', page).group(1)
    boundary, body = encode_multipart({"csrf_token": token(client, "/shop/import"), "text": text, "digest": digest})
    return client.post("/shop/import/apply", data=body, content_type=f"multipart/form-data; boundary={boundary}")


def test_export_is_utf8_with_bom_and_only_my_products(shop_client, shops: Shops) -> None:
    response = shop_client.get("/shop/products.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.data.startswith(b"\xef\xbb\xbf")
    text = response.data.decode("utf-8-sig")
    assert "大根" in text and "制限なし" in text and "白菜" not in text


def test_round_trip_changes_nothing(app, shop_client, shops: Shops) -> None:
    exported = shop_client.get("/shop/products.csv").data
    page = _upload(shop_client, exported).get_data(as_text=True)
    assert 'id="csv-nothing"' in page and 'id="csv-apply"' not in page
    assert ledger_sum(app, shops.daikon) == 0


def test_shift_jis_preview_then_apply(app, shop_client, shops: Shops) -> None:
    text = "商品名,値段（円）,在庫,販売\r\n大根,160,25,販売中\r\nりんご,,0,お休み\r\n"
    response = _upload(shop_client, text.encode("cp932"))
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "変わる商品は 2 件" in page
    assert product(app, shops.daikon).stock == 20          # a preview changes nothing
    assert _apply(shop_client, page).status_code == 302
    daikon, apple = product(app, shops.daikon), product(app, shops.apple)
    assert (daikon.price_yen, daikon.stock, apple.stock, apple.available, apple.price_yen) == (160, 25, 0, False, 100)
    assert 20 + ledger_sum(app, shops.daikon) == 25 and 30 + ledger_sum(app, shops.apple) == 0
    assert "stock.set" in audit_actions(app, shops.daikon)


def test_row_errors_in_japanese_and_nothing_applied(app, shop_client, shops: Shops) -> None:
    text = ("商品番号,商品名,値段,在庫\n"
            f"{shops.daikon},大根,160,25\n"
            ",白菜,100,3\n"            # another shop's product: unknown here
            ",りんご,abc,5\n"
            ",食パン,300,-2\n")
    response = _upload(shop_client, text.encode())
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "3行目：「白菜」という商品はこのお店にありません" in page
    assert "4行目：値段「abc」が数字ではありません" in page
    assert "5行目：在庫はマイナスにできません" in page
    assert 'id="csv-apply"' not in page
    # Posting the file to apply anyway (no preview button) changes nothing, not even the good row.
    import re
    from shops.csv_io import read_csv
    digest = read_csv(text, []).digest()
    boundary, body = encode_multipart({"csrf_token": token(shop_client, "/shop/import"), "text": text, "digest": digest})
    refused = shop_client.post("/shop/import/apply", data=body, content_type=f"multipart/form-data; boundary={boundary}")
    assert refused.status_code == 400 and "取り込んでいません" in refused.get_data(as_text=True)
    assert product(app, shops.daikon).stock == 20 and product(app, shops.daikon).price_yen == 150
    assert re.search("白菜", refused.get_data(as_text=True))


def test_a_change_between_preview_and_apply_refuses_the_whole_file(app, shop_client, shops: Shops) -> None:
    page = _upload(shop_client, "商品名,値段,在庫\n大根,170,25\nりんご,90,\n".encode()).get_data(as_text=True)
    from tests.shop_support import post
    post(shop_client, f"/shop/products/{shops.daikon}/adjust", sign="-", amount="1")   # like an order
    refused = _apply(shop_client, page)
    assert refused.status_code == 409 and "確認のあとで在庫や値段が変わりました" in refused.get_data(as_text=True)
    assert product(app, shops.daikon).stock == 19 and product(app, shops.apple).price_yen == 100


def test_a_bad_encoding_or_empty_file_is_a_message(shop_client, shops: Shops) -> None:
    assert "文字コード" in _upload(shop_client, b"\xff\xfe\x00\x81\xff").get_data(as_text=True)
    assert "ファイルが空です" in _upload(shop_client, b"").get_data(as_text=True) or \
        "CSVファイルを選んでください" in _upload(shop_client, b"").get_data(as_text=True)


CATALOGUE = [ShopProduct(1, "大根", "だいこん", "本", "野菜", 150, 20, True, None),
             ShopProduct(2, "=cmd|'/c calc'!A1", "'いたずら", "個", "x", 0, None, False, None)]


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_gives_only_row_errors(text: str) -> None:
    preview = csv_io.read_csv(text, CATALOGUE)
    assert all(isinstance(e, csv_io.RowError) for e in preview.errors)


names = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=20)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(names, names, names, st.integers(0, 100_000), st.one_of(st.none(), st.integers(0, 99_999)),
                          st.booleans()), min_size=1, max_size=8))
def test_export_then_import_changes_nothing(rows) -> None:  # type: ignore[no-untyped-def]
    catalogue = [ShopProduct(i + 1, n, k, u, "c", price, stock, on, None)
                 for i, (n, k, u, price, stock, on) in enumerate(rows)]
    data = csv_io.export_bytes(catalogue)
    preview = csv_io.read_csv(csv_io.decode(data), catalogue)
    assert preview.errors == [] and preview.changes == [] and len(preview.rows) == len(catalogue)
