"""Staff master data for shops, their products and districts (/staff/master/shops…, /staff/master/districts…):
add and edit each, Japanese validation with the form again (400), the product rules and stock ledger of
the shop portal, the refusal (409) to take away a weekday or window that open orders are booked on, and
an audit row for every change. Read-only accounts only look."""

from __future__ import annotations

from sqlalchemy import select

from core.models import AuditEntry
from orders.models import Order, OrderStatus
from orders.placing import LineItem, place_order
from places.models import District
from shops import service
from shops.models import Product, Shop, StockMovement
from tests.accounts_support import csrf_of, sign_in
from tests.conftest import DEFAULT_NOW
from tests.factories import make_district, make_outer_district, make_product, make_resident, make_shop

STAND = {"name": "あやめ直売所", "kana": "あやめちょくばいじょ", "kind": "farm_stand", "address": "長井市あやめ町1-2",
         "lat": "38.1010", "lon": "140.0350", "phone": "0238-84-0000", "pickup_open": "08:30",
         "pickup_close": "15:00", "active": "yes"}
RADISH = {"name": "大根", "kana": "だいこん", "category": "野菜", "unit": "本", "price_yen": "150", "stock": "10",
          "available": "yes", "cold": ""}


def _rows(text: str) -> dict[str, str]:
    """Window rows as the district form posts them (``windows-<n>-code`` …), from 「am 午前 09:00-12:00」
    lines; padded with blank rows (the form always shows one), so that a shorter list replaces a longer."""
    fields: dict[str, str] = {}
    lines = [line.split() for line in text.splitlines() if line.strip()]
    for n in range(max(len(lines), 2)):
        code, label, span = lines[n] if n < len(lines) else ("", "", "-")
        start, end = span.split("-")
        fields.update({f"windows-{n}-code": code, f"windows-{n}-label": label, f"windows-{n}-start": start,
                       f"windows-{n}-end": end})
    return fields


# DEFAULT_NOW is Tuesday 1 December 2026, 08:00: the central district (Mon–Sat, 午後 only) delivers today.
CENTRAL = {"code": "chuo", "name": "中央", "kana": "ちゅうおう", "cutoff_days_before": "0", "cutoff_time": "10:00",
           "skip_public_holidays": "yes", **_rows("pm 午後 13:00-17:00"), "centre_lat": "38.1075",
           "centre_lon": "140.0405", "depot_name": "長井市役所", "depot_lat": "38.1075", "depot_lon": "140.0405",
           "fee_yen": "100"}
MON_TO_SAT = ["0", "1", "2", "3", "4", "5"]


def _post(client, url: str, data: dict[str, object]):  # type: ignore[no-untyped-def]
    token = csrf_of(client.get("/staff/master/").get_data(as_text=True))
    return client.post(url, data={**data, "csrf_token": token})


def _audits(session, subject_type: str) -> list[AuditEntry]:  # type: ignore[no-untyped-def]
    return list(session.scalars(select(AuditEntry).where(AuditEntry.subject_type == subject_type)
                                .order_by(AuditEntry.id)))


# ---- shops -------------------------------------------------------------------------------------

def test_a_coordinator_adds_lists_and_edits_a_shop(app, client, session) -> None:
    sign_in(client, "coordinator")
    added = _post(client, "/staff/master/shops/new", STAND)
    assert added.status_code == 302 and added.headers["Location"] == "/staff/master/shops"
    (stand,) = session.scalars(select(Shop)).all()
    assert (stand.kind, stand.address, stand.phone, stand.pickup_open, stand.pickup_close, stand.active) == \
        ("farm_stand", "長井市あやめ町1-2", "+81238840000", "08:30", "15:00", True)   # E.164, as SMS needs
    stand_id = stand.id
    session.rollback()
    listing = client.get("/staff/master/shops").get_data(as_text=True)
    assert "あやめ直売所" in listing and "08:30〜15:00" in listing and "営業中" in listing and "未連携" in listing
    assert "0238840000" in listing and "+81" not in listing
    form = client.get(f"/staff/master/shops/{stand_id}").get_data(as_text=True)
    assert 'value="長井市あやめ町1-2"' in form and 'value="0238840000"' in form
    unchanged = _post(client, f"/staff/master/shops/{stand_id}", STAND)   # the same number, as typed again
    assert unchanged.status_code == 302
    edited = _post(client, f"/staff/master/shops/{stand_id}", {**STAND, "phone": "", "kind": "shop", "active": ""})
    assert edited.status_code == 302
    stand = session.get(Shop, stand_id)
    assert (stand.phone, stand.kind, stand.active) == (None, "shop", False)
    audits = _audits(session, "shop")
    assert [a.action for a in audits] == ["shop.add", "shop.edit", "shop.edit"]
    assert audits[1].data["fields"] == []   # 0238-84-0000 typed again is the number already stored
    assert audits[2].actor != "anonymous" and set(audits[2].data["fields"]) == {"phone", "kind", "active"}
    session.rollback()
    assert "休業" in client.get("/staff/master/shops").get_data(as_text=True)


def test_bad_shop_input_shows_the_form_again_in_japanese(app, client, session) -> None:
    sign_in(client, "admin")
    cases = [({"name": ""}, "お店の名前を入力してください"),
             ({"kind": "castle"}, "種類は「お店」か「直売所」を選んで"),
             ({"lat": "北"}, "緯度は数字で入力してください"),
             ({"lon": "200"}, "経度は-180.0〜180.0の範囲"),
             ({"phone": "でんわ"}, "電話番号は 0238-00-1234 のように"),
             ({"phone": "84-0000"}, "電話番号は 0238-00-1234 のように市外局番から"),   # no area code
             ({"pickup_open": "8時"}, "集荷の開始は 09:00 のように"),
             ({"pickup_open": "16:00"}, "集荷の終了は開始より後")]
    for change, message in cases:
        response = _post(client, "/staff/master/shops/new", {**STAND, **change})
        page = response.get_data(as_text=True)
        assert response.status_code == 400 and message in page, (change, response.status_code)
        assert 'name="csrf_token"' in page
    assert session.scalars(select(Shop)).all() == []
    assert _audits(session, "shop") == []


# ---- products ----------------------------------------------------------------------------------

def test_a_coordinator_adds_and_edits_a_product_through_the_shop_rules_and_the_ledger(app, client, session) -> None:
    stand = make_shop(session, name="あやめ直売所")
    session.commit()
    stand_id = stand.id
    session.rollback()
    sign_in(client, "coordinator")
    added = _post(client, f"/staff/master/shops/{stand_id}/products/new", {**RADISH, "cold": "yes"})
    assert added.status_code == 302 and added.headers["Location"] == f"/staff/master/shops/{stand_id}/products"
    (radish,) = session.scalars(select(Product)).all()
    assert (radish.shop_id, radish.price_yen, radish.stock, radish.cold, radish.available) == \
        (stand_id, 150, 10, True, True)
    radish_id = radish.id
    session.rollback()
    listing = client.get(f"/staff/master/shops/{stand_id}/products").get_data(as_text=True)
    assert "大根" in listing and "10本" in listing and "保冷" in listing and "販売中" in listing
    page = client.get(f"/staff/master/shops/{stand_id}/products/{radish_id}").get_data(as_text=True)
    assert 'name="expected_stock" value="10"' in page
    edited = _post(client, f"/staff/master/shops/{stand_id}/products/{radish_id}",
                   {**RADISH, "name": "大根（青首）", "price_yen": "１８０", "stock": "7", "expected_stock": "10",
                    "cold": "", "available": ""})
    assert edited.status_code == 302
    radish = session.get(Product, radish_id)
    assert (radish.name, radish.price_yen, radish.stock, radish.cold, radish.available) == \
        ("大根(青首)", 180, 7, False, False)   # NFKC, as the shop portal stores names
    ledger = [(m.reason, m.delta) for m in session.scalars(select(StockMovement).order_by(StockMovement.id))]
    assert ledger == [("initial", 10), ("set", -3)]
    actions = [a.action for a in _audits(session, "product")]
    assert actions == ["product.add", "product.edit", "product.price", "stock.set", "stock.available"]
    assert set(_audits(session, "product")[1].data["fields"]) == {"name", "cold"}
    session.rollback()
    assert "販売停止" in client.get(f"/staff/master/shops/{stand_id}/products").get_data(as_text=True)


def test_a_product_page_left_open_while_orders_came_in_is_refused_409(app, client, session) -> None:
    radish = make_product(session, stock=10)
    session.commit()
    shop_id, radish_id = radish.shop_id, radish.id
    session.rollback()
    sign_in(client, "coordinator")
    url = f"/staff/master/shops/{shop_id}/products/{radish_id}"
    assert 'name="expected_stock" value="10"' in client.get(url).get_data(as_text=True)
    service.adjust_stock(session, product_id=radish_id, delta=-2, actor="test", channel="line", now=DEFAULT_NOW)
    session.commit()
    refused = _post(client, url, {**RADISH, "stock": "12", "expected_stock": "10"})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 409 and "在庫の数がほかで変わりました" in page
    assert 'name="expected_stock" value="8"' in page and 'name="stock" value="8"' in page
    session.rollback()
    assert session.get(Product, radish_id).stock == 8


def test_bad_product_input_shows_the_form_again_in_japanese(app, client, session) -> None:
    stand = make_shop(session)
    make_product(session, stand, name="にんじん", kana="にんじん")
    session.commit()
    stand_id = stand.id
    session.rollback()
    sign_in(client, "admin")
    cases = [({"name": ""}, "商品名を入れてください"),
             ({"name": "ニンジン"}, "同じ名前の商品がもうあります"),
             ({"kana": ""}, "よみがなを入れてください"),
             ({"unit": ""}, "単位（本、個、袋など）を入れてください"),
             ({"price_yen": "たかい"}, "値段は数字で入れてください"),
             ({"price_yen": "200000"}, "値段は0円から100000円まで"),
             ({"stock": "100000"}, "在庫の数は0から99999まで")]
    for change, message in cases:
        response = _post(client, f"/staff/master/shops/{stand_id}/products/new", {**RADISH, **change})
        assert response.status_code == 400 and message in response.get_data(as_text=True), change
    assert [p.name for p in session.scalars(select(Product))] == ["にんじん"]
    assert _audits(session, "product") == []


def test_a_product_is_found_only_under_its_own_shop(app, client, session) -> None:
    mine, theirs = make_shop(session), make_shop(session)
    cabbage = make_product(session, theirs, name="白菜")
    session.commit()
    mine_id, cabbage_id = mine.id, cabbage.id
    session.rollback()
    sign_in(client, "admin")
    assert client.get(f"/staff/master/shops/{mine_id}/products/{cabbage_id}").status_code == 404
    assert _post(client, f"/staff/master/shops/{mine_id}/products/{cabbage_id}",
                 {**RADISH, "expected_stock": "20"}).status_code == 404
    assert client.get("/staff/master/shops/4242/products").status_code == 404
    assert session.get(Product, cabbage_id).name == "白菜"


# ---- districts ---------------------------------------------------------------------------------

def test_a_coordinator_adds_and_edits_a_district(app, client, session) -> None:
    sign_in(client, "coordinator")
    added = _post(client, "/staff/master/districts/new",
                  {**CENTRAL, "code": "isazawa", "name": "伊佐沢", "delivery_weekdays": ["1", "4"],
                   "cutoff_days_before": "1", "cutoff_time": "17:00",
                   **_rows("am 午前 09:00-12:00\npm 午後 13:00-17:00")})
    assert added.status_code == 302 and added.headers["Location"] == "/staff/master/districts"
    (isazawa,) = session.scalars(select(District)).all()
    assert (isazawa.delivery_weekdays, isazawa.cutoff_days_before, isazawa.cutoff_time, isazawa.fee_yen) == \
        ("14", 1, "17:00", 100)
    assert isazawa.windows == [{"code": "am", "label": "午前", "start": "09:00", "end": "12:00"},
                               {"code": "pm", "label": "午後", "start": "13:00", "end": "17:00"}]
    isazawa_id = isazawa.id
    session.rollback()
    listing = client.get("/staff/master/districts").get_data(as_text=True)
    assert "伊佐沢" in listing and "火金" in listing and "1日前 17:00" in listing and "午前 09:00〜12:00" in listing
    page = client.get(f"/staff/master/districts/{isazawa_id}").get_data(as_text=True)
    assert 'name="windows-0-code" value="am"' in page and 'name="windows-1-end" value="17:00"' in page
    assert 'name="windows-2-code" value=""' in page     # a blank row to add a window without JavaScript
    assert 'value="4" checked' in page and 'value="0" checked' not in page
    edited = _post(client, f"/staff/master/districts/{isazawa_id}",
                   {**CENTRAL, "code": "isazawa", "name": "伊佐沢", "delivery_weekdays": ["1", "3", "4"],
                    "cutoff_days_before": "1", "cutoff_time": "17:00", "fee_yen": "250",
                    **_rows("am 午前 09:00-12:00\npm 午後 13:00-17:00")})
    assert edited.status_code == 302
    isazawa = session.get(District, isazawa_id)
    assert (isazawa.delivery_weekdays, isazawa.fee_yen) == ("134", 250)
    audits = _audits(session, "district")
    assert [a.action for a in audits] == ["district.add", "district.edit"]
    assert set(audits[1].data["fields"]) == {"delivery_weekdays", "fee_yen"}


def test_bad_district_input_shows_the_form_again_in_japanese(app, client, session) -> None:
    make_district(session, code="chuo")
    session.commit()
    sign_in(client, "admin")
    good = {**CENTRAL, "code": "isazawa", "delivery_weekdays": MON_TO_SAT}
    cases = [({"code": "伊佐沢"}, "地区の記号は英小文字"),
             ({"code": "chuo"}, "その地区の記号はほかの地区で使われています"),
             ({"delivery_weekdays": []}, "配達する曜日を1つ以上選んでください"),
             ({"delivery_weekdays": ["9"]}, "配達する曜日は一覧から選んで"),
             ({"cutoff_time": "17時"}, "締め切りの時刻は 09:00 のように"),
             ({"cutoff_days_before": "30"}, "締め切りの日（何日前）は0〜14の整数"),
             ({"fee_yen": "-1"}, "配達料（円）は0〜10000の整数"),
             ({"depot_lat": "inf"}, "出発地の緯度は-90.0〜90.0の範囲")]
    for change, message in cases:
        response = _post(client, "/staff/master/districts/new", {**good, **change})
        assert response.status_code == 400 and message in response.get_data(as_text=True), change
    assert [d.code for d in session.scalars(select(District))] == ["chuo"]
    assert _audits(session, "district") == []


# ---- district windows, one row each ------------------------------------------------------------

WINDOW_CASES = [
    (_rows(""), None, "配達の時間帯を1つ以上入力してください"),
    ({**_rows("pm 午後 13:00-17:00"), "windows-0-remove": "yes"}, None, "配達の時間帯を1つ以上入力してください"),
    (_rows("pm 午後 17:00-13:00"), 0, "終了の時刻は開始より後にしてください"),
    (_rows("pm 午後 13:00-13:00"), 0, "終了の時刻は開始より後にしてください"),
    (_rows("am 午前 07:00-09:00"), 0, "時間帯は配達をする08:00〜20:00の中にしてください"),
    (_rows("ev 夜 19:00-21:00"), 0, "時間帯は配達をする08:00〜20:00の中にしてください"),
    (_rows("am 午前 09:00-12:00\nmd 昼 11:30-13:00"), 1, "1行目（午前 09:00〜12:00）と時間が重なっています"),
    (_rows("am 午前 09:00-12:00\nam 午前2 13:00-15:00"), 1, "記号「am」は1行目でも使われています"),
    (_rows("any 終日 09:00-17:00"), 0, "「any」以外"),
    (_rows("午前 - 09:00-12:00"), 0, "記号は英小文字と数字"),
    ({**_rows("pm 午後 13:00-17:00"), "windows-0-label": ""}, 0, "名前を入力してください"),
    ({**_rows("pm 午後 13:00-17:00"), "windows-0-start": "1時"}, 0, "開始の時刻を 09:00 のように入力してください"),
    (_rows("\n".join(f"w{h} 便{h} {h:02d}:00-{h + 1:02d}:00" for h in range(9, 16))), None,
     "配達の時間帯は6つまでにしてください"),
]


def _row_section(page: str, index: int) -> str:
    """The HTML of window row ``index`` (0-based): from its legend to the next row's."""
    start = page.index(f"<legend>{index + 1}行目</legend>")
    end = page.find(f"<legend>{index + 2}行目</legend>", start)
    return page[start:end if end != -1 else len(page)]


def test_each_bad_window_row_is_refused_with_its_message_on_its_row(app, client, session) -> None:
    sign_in(client, "coordinator")
    good = {**CENTRAL, "code": "isazawa", "delivery_weekdays": MON_TO_SAT}
    for rows, bad_row, message in WINDOW_CASES:
        response = _post(client, "/staff/master/districts/new", {**good, **rows})
        page = response.get_data(as_text=True)
        assert response.status_code == 400 and message in page, rows
        if bad_row is not None:
            assert message in _row_section(page, bad_row), rows
            assert f"配達の時間帯の{bad_row + 1}行目を直してください" in page, rows
    assert list(session.scalars(select(District))) == [] and _audits(session, "district") == []


def test_a_bad_row_keeps_every_entered_value_and_saves_nothing(app, client, session) -> None:
    outer = make_outer_district(session, code="isazawa")
    session.commit()
    outer_id, windows_before, fee_before = outer.id, list(outer.windows), outer.fee_yen
    session.rollback()
    sign_in(client, "coordinator")
    form = {**CENTRAL, "code": "isazawa", "delivery_weekdays": ["1", "4"], "cutoff_days_before": "1",
            "cutoff_time": "17:00", "fee_yen": "999", "cutoff_days_before": "40",
            **_rows("am 午前 09:00-12:00\nmd 昼 11:30-13:00\npm 午後 13:00-17:00")}
    response = _post(client, f"/staff/master/districts/{outer_id}", form)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    # Both the field mistake and the row's are shown at once, and the rows come back as typed.
    assert "締め切りの日（何日前）は0〜14の整数" in page and "配達の時間帯の2行目を直してください" in page
    assert "と時間が重なっています" in _row_section(page, 1) and "重なって" not in _row_section(page, 2)
    for n, (code, start) in enumerate([("am", "09:00"), ("md", "11:30"), ("pm", "13:00")]):
        assert f'name="windows-{n}-code" value="{code}"' in page and f'name="windows-{n}-start" value="{start}"' in page
    assert 'name="fee_yen" value="999"' in page and 'name="windows-3-code" value=""' in page
    district = session.get(District, outer_id)
    assert (district.windows, district.fee_yen) == (windows_before, fee_before)
    assert _audits(session, "district") == []


def test_a_window_is_added_by_the_row_button_or_a_blank_row_and_removed_by_its_box(app, client, session) -> None:
    sign_in(client, "coordinator")
    base = {**CENTRAL, "code": "isazawa", "delivery_weekdays": MON_TO_SAT}
    # 「時間帯の行を追加」 posts the form back: one more blank row, the values kept, nothing saved.
    more = _post(client, "/staff/master/districts/new",
                 {**base, **_rows("am 午前 09:00-12:00\npm 午後 13:00-17:00"), "add_window": "1"})
    page = more.get_data(as_text=True)
    assert more.status_code == 200 and "<legend>4行目</legend>" in page and "<legend>5行目</legend>" not in page
    assert 'name="windows-1-code" value="pm"' in page and 'name="windows-3-code" value=""' in page
    assert list(session.scalars(select(District))) == [] and _audits(session, "district") == []
    session.rollback()
    # Filling the blank rows adds windows.
    saved = _post(client, "/staff/master/districts/new",
                  {**base, **_rows("am 午前 09:00-12:00\npm 午後 13:00-17:00\nev 夕方 17:00-19:00")})
    assert saved.status_code == 302
    (district,) = session.scalars(select(District)).all()
    assert [w["code"] for w in district.windows] == ["am", "pm", "ev"]
    district_id = district.id
    session.rollback()
    page = client.get(f"/staff/master/districts/{district_id}").get_data(as_text=True)
    assert 'name="windows-2-remove"' in page and 'name="windows-3-remove"' not in page   # blank rows: no box
    # The 「削除」 box takes a window out (no order is booked on it).
    removed = _post(client, f"/staff/master/districts/{district_id}",
                    {**base, **_rows("am 午前 09:00-12:00\npm 午後 13:00-17:00\nev 夕方 17:00-19:00"),
                     "windows-1-remove": "yes"})
    assert removed.status_code == 302
    district = session.get(District, district_id)
    assert district.windows == [{"code": "am", "label": "午前", "start": "09:00", "end": "12:00"},
                                {"code": "ev", "label": "夕方", "start": "17:00", "end": "19:00"}]
    audits = _audits(session, "district")
    assert [a.action for a in audits] == ["district.add", "district.edit"] and audits[1].data["fields"] == ["windows"]


def _district_with_an_open_order(session) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """The central district (Mon–Sat, 午後) with one open order for today, Tuesday 1 December."""
    central = make_district(session, code="chuo")
    resident = make_resident(session, central)
    radish = make_product(session)
    session.commit()
    order = place_order(session, resident_id=resident.id, items=[LineItem(radish.id, 1)], placed_by="test",
                        channel="phone", now=DEFAULT_NOW)
    session.commit()
    assert (order.delivery_date.isoformat(), order.window_code, order.status) == \
        ("2026-12-01", "pm", OrderStatus.CONFIRMED)
    ids = central.id, order.id
    session.rollback()
    return ids


def test_a_weekday_or_window_with_open_orders_cannot_be_removed(app, client, session) -> None:
    central_id, order_id = _district_with_an_open_order(session)
    sign_in(client, "coordinator")
    url = f"/staff/master/districts/{central_id}"
    no_tuesday = _post(client, url, {**CENTRAL, "delivery_weekdays": ["0", "2", "3", "4", "5"]})
    page = no_tuesday.get_data(as_text=True)
    assert no_tuesday.status_code == 409 and "注文1件（12月1日から、火曜日）が配達できなくなる" in page
    assert 'name="csrf_token"' in page
    no_afternoon = _post(client, url, {**CENTRAL, "delivery_weekdays": MON_TO_SAT, **_rows("am 午前 09:00-12:00")})
    assert no_afternoon.status_code == 409 and "配達できなくなる" in no_afternoon.get_data(as_text=True)
    assert session.get(District, central_id).delivery_weekdays == "012345"
    assert session.get(District, central_id).windows[0]["code"] == "pm"
    assert _audits(session, "district") == []
    session.rollback()
    # A day and a window nobody is booked on can go, and the window's hours can change.
    fine = _post(client, url, {**CENTRAL, "delivery_weekdays": ["0", "1", "2", "3", "4"],
                               **_rows("pm 午後 14:00-18:00\nev 夕方 18:00-19:00")})
    assert fine.status_code == 302
    assert session.get(District, central_id).delivery_weekdays == "01234"
    assert [a.action for a in _audits(session, "district")] == ["district.edit"]
    session.rollback()


def test_a_cancelled_order_does_not_hold_its_weekday(app, client, session) -> None:
    central_id, order_id = _district_with_an_open_order(session)
    session.get(Order, order_id).status = OrderStatus.CANCELLED
    session.commit()
    sign_in(client, "coordinator")
    response = _post(client, f"/staff/master/districts/{central_id}",
                     {**CENTRAL, "delivery_weekdays": ["0", "2", "3", "4", "5"]})
    assert response.status_code == 302
    assert session.get(District, central_id).delivery_weekdays == "02345"


def test_leaving_one_window_strands_the_orders_for_any_time(app, client, session) -> None:
    """「時間指定なし」 exists only while a district has two windows or more (orders.calendar)."""
    outer = make_outer_district(session, code="isazawa")
    resident = make_resident(session, outer)
    radish = make_product(session)
    session.commit()
    order = place_order(session, resident_id=resident.id, items=[LineItem(radish.id, 1)], placed_by="test",
                        channel="phone", now=DEFAULT_NOW, window_code="any")
    session.commit()
    outer_id, day = outer.id, order.delivery_date
    session.rollback()
    sign_in(client, "coordinator")
    form = {**CENTRAL, "code": "isazawa", "delivery_weekdays": ["1", "4"], "cutoff_days_before": "1",
            "cutoff_time": "17:00"}
    only_morning = _post(client, f"/staff/master/districts/{outer_id}", {**form, **_rows("am 午前 09:00-12:00")})
    assert only_morning.status_code == 409
    assert f"{day.month}月{day.day}日から" in only_morning.get_data(as_text=True)
    both = _post(client, f"/staff/master/districts/{outer_id}",
                 {**form, **_rows("am 午前 09:00-12:00\npm 午後 13:00-16:00")})
    assert both.status_code == 302

# ---- access ------------------------------------------------------------------------------------

def test_a_readonly_account_sees_the_lists_but_cannot_change(app, client, session) -> None:
    stand = make_shop(session, name="あやめ直売所")
    make_product(session, stand, name="大根")
    central = make_district(session, name="中央")
    session.commit()
    stand_id, central_id = stand.id, central.id
    session.rollback()
    sign_in(client, "readonly")
    for url, seen in [("/staff/master/shops", "あやめ直売所"), (f"/staff/master/shops/{stand_id}/products", "大根"),
                      ("/staff/master/districts", "中央")]:
        response = client.get(url)
        assert response.status_code == 200 and seen in response.get_data(as_text=True), url
        assert "変更</a>" not in response.get_data(as_text=True) and "を追加する" not in response.get_data(as_text=True)
    token = csrf_of(client.get("/staff/master/shops").get_data(as_text=True))
    for url, data in [(f"/staff/master/shops/{stand_id}", STAND),
                      (f"/staff/master/shops/{stand_id}/products/new", RADISH),
                      (f"/staff/master/districts/{central_id}", {**CENTRAL, "fee_yen": "0"}),
                      (f"/staff/master/districts/{central_id}", {**CENTRAL, "add_window": "1"})]:
        assert client.post(url, data={**data, "csrf_token": token}).status_code == 403, url
    assert session.get(Shop, stand_id).name == "あやめ直売所" and session.get(District, central_id).fee_yen == 100
    assert _audits(session, "shop") == _audits(session, "product") == _audits(session, "district") == []


def test_the_master_index_links_to_shops_and_districts(app, client) -> None:
    sign_in(client, "readonly")
    page = client.get("/staff/master/").get_data(as_text=True)
    assert 'href="/staff/master/shops"' in page and 'href="/staff/master/districts"' in page
