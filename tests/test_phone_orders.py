"""「電話受付」: the coordinator finds a resident who phoned, takes their order (quote, then 確定) with
the channels' rules (next delivery day, cutoff, stock, one order per door), and opens, changes and
cancels an order from its detail page."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import func, select

from core.clock import JST
from core.models import AuditEntry
from orders.models import Order, OrderStatus
from orders.placing import LineItem, place_order
from outbox.models import OutboxMessage
from shops.models import Product
from tests.accounts_support import csrf_of, sign_in
from tests.factories import make_district, make_product, make_resident, make_shop
from tests.test_planning import town  # noqa: F401  (fixture)


def _town(session):  # type: ignore[no-untyped-def]
    district = make_district(session)
    farm = make_shop(session, name="みどり直売所")
    radish = make_product(session, farm, name="大根", stock=5)
    tofu = make_product(session, farm, name="豆腐", kana="とうふ", category="加工品", unit="丁", price_yen=120,
                        stock=None)
    phone_only = make_resident(session, district, name="山田 花子", kana="やまだ はなこ", phone="+81238001234",
                               mobile_phone="+819012345678")
    other = make_resident(session, district, name="佐藤 一郎", kana="さとう いちろう", phone="+81238005678")
    session.commit()
    ids = {"resident": phone_only.id, "other": other.id, "radish": radish.id, "tofu": tofu.id}
    session.rollback()
    return ids


def _phoned_order(session, ids, *lines: tuple[str, int]) -> int:  # type: ignore[no-untyped-def]
    """An order the resident placed on the automated line at 07:00, committed; its id."""
    order = place_order(session, resident_id=ids["resident"], items=[LineItem(ids[name], n) for name, n in lines],
                        placed_by="resident:x", channel="phone", now=datetime(2026, 12, 1, 7, 0, tzinfo=JST))
    session.commit()
    order_id = order.id
    session.rollback()
    return order_id


def _key(page: str) -> str:
    return re.search(r'name="key" value="([^"]+)"', page).group(1)


def _quote(client, resident_id: int, **quantities: int):  # type: ignore[no-untyped-def]
    entry = client.get(f"/staff/residents/{resident_id}/order").get_data(as_text=True)
    data = {"csrf_token": csrf_of(entry), **{k: str(v) for k, v in quantities.items()}}
    return client.post(f"/staff/residents/{resident_id}/order/quote", data=data)


def _confirm_data(page: str) -> dict[str, str]:
    form = page.split('order/confirm', 1)[1].split("</form>", 1)[0]
    return dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form))


def test_search_by_name_kana_and_phone_links_to_the_resident(app, client, session) -> None:
    ids = _town(session)
    sign_in(client)
    for text in ("山田", "やまだ", "ヤマダ", "1234", "0238-00-1234"):
        page = client.get("/staff/residents", query_string={"q": text}).get_data(as_text=True)
        assert f'/staff/residents/{ids["resident"]}"' in page and "佐藤" not in page, text
    assert "見つかりませんでした" in client.get("/staff/residents?q=鈴木").get_data(as_text=True)
    page = client.get(f"/staff/residents/{ids['resident']}").get_data(as_text=True)
    assert "電話で注文を受ける" in page and f"/staff/residents/{ids['resident']}/order" in page
    assert session.scalar(select(func.count()).select_from(AuditEntry)
                          .where(AuditEntry.action == "view.residents_search")) >= 1
    assert client.get("/staff/residents/99999").status_code == 404


def test_taking_an_order_quotes_then_places_one_order_marked_phone_office(app, client, session) -> None:
    ids = _town(session)
    sign_in(client)
    entry = client.get(f"/staff/residents/{ids['resident']}/order").get_data(as_text=True)
    assert "12月1日（火）" in entry and "みどり直売所" in entry and "加工品" in entry
    quote = _quote(client, ids["resident"], **{f"q_{ids['radish']}": 2, f"q_{ids['tofu']}": 1})
    page = quote.get_data(as_text=True)
    assert quote.status_code == 200 and "420円" in page and "配達料" in page and "520円" in page
    assert session.scalars(select(Order)).all() == []       # a quote places nothing
    session.rollback()
    data = _confirm_data(page)
    first = client.post(f"/staff/residents/{ids['resident']}/order/confirm", data=data)
    again = client.post(f"/staff/residents/{ids['resident']}/order/confirm", data=data)   # double submit
    assert first.status_code == again.status_code == 302
    (order,) = session.scalars(select(Order)).all()
    assert order.channel == "staff" and order.total_yen == 520 and order.placed_by.startswith("account:")
    assert session.get(Product, ids["radish"]).stock == 3
    # The resident has no LINE: the same confirmation as a phone order, an SMS to the mobile.
    (sms,) = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "order_confirmed")).all()
    assert sms.channel == "sms"
    session.rollback()
    detail = client.get(first.headers["Location"]).get_data(as_text=True)
    assert "承りました（電話受付）" in detail and "電話受付" in detail and "注文を受付" in detail
    listing = client.get("/staff/orders?date=2026-12-01").get_data(as_text=True)
    assert f"/staff/orders/{order.id}" in listing and "電話受付" in listing


def test_a_second_call_the_same_day_is_offered_as_an_addition(app, client, session) -> None:
    ids = _town(session)
    first_id = _phoned_order(session, ids, ("radish", 1))
    sign_in(client)
    entry = client.get(f"/staff/residents/{ids['resident']}/order").get_data(as_text=True)
    assert f"注文番号 {first_id}" in entry and "追加" in entry
    page = _quote(client, ids["resident"], **{f"q_{ids['tofu']}": 2}).get_data(as_text=True)
    assert f"注文番号 {first_id} への" in page and "追加を確定する" in page
    done = client.post(f"/staff/residents/{ids['resident']}/order/confirm", data=_confirm_data(page))
    assert done.headers["Location"].endswith(f"/staff/orders/{first_id}")
    session.expire_all()
    (order,) = session.scalars(select(Order)).all()
    assert order.id == first_id and order.fee_yen == 100 and len(order.lines) == 2
    assert order.total_yen == 150 + 240 + 100


def test_past_the_cutoff_nothing_is_placed_and_the_coordinator_is_told(app, client, session, clock) -> None:
    ids = _town(session)
    sign_in(client)
    page = _quote(client, ids["resident"], **{f"q_{ids['radish']}": 1}).get_data(as_text=True)
    clock.advance(timedelta(hours=3))       # 11:00: the 10:00 cutoff for Dec 1 passed during the call
    refused = client.post(f"/staff/residents/{ids['resident']}/order/confirm", data=_confirm_data(page))
    text = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "12月1日（火）のお届け分は締め切りを過ぎました" in text
    assert "次のお届けは12月2日（水）" in text
    assert session.scalars(select(Order)).all() == []
    assert session.get(Product, ids["radish"]).stock == 5


def test_not_enough_stock_is_the_lines_error_and_nothing_is_placed(app, client, session) -> None:
    ids = _town(session)
    sign_in(client)
    page = _quote(client, ids["resident"], **{f"q_{ids['radish']}": 4}).get_data(as_text=True)
    session.execute(Product.__table__.update().values(stock=2).where(Product.id == ids["radish"]))
    session.commit()
    refused = client.post(f"/staff/residents/{ids['resident']}/order/confirm", data=_confirm_data(page))
    text = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "大根" in text and ("売り切れ" in text or "残り" in text)
    assert session.scalars(select(Order)).all() == []
    assert session.get(Product, ids["radish"]).stock == 2
    session.rollback()
    too_many = _quote(client, ids["resident"], **{f"q_{ids['radish']}": 9})
    assert too_many.status_code == 400 and "大根" in too_many.get_data(as_text=True)


def test_the_detail_page_changes_removes_a_line_and_cancels(app, client, session, clock) -> None:
    ids = _town(session)
    order_id = _phoned_order(session, ids, ("radish", 2), ("tofu", 1))
    sign_in(client)
    page = client.get(f"/staff/orders/{order_id}").get_data(as_text=True)
    assert "山田 花子" in page and "注文確定" in page and "自動電話" in page and "内容を変更する" in page
    changed = client.post(f"/staff/orders/{order_id}/change", data={
        "csrf_token": csrf_of(page), f"q_{ids['radish']}": "3", f"q_{ids['tofu']}": "0"}, follow_redirects=True)
    assert "内容を変更し" in changed.get_data(as_text=True)
    session.expire_all()
    order = session.get(Order, order_id)
    assert [(line.product_id, line.quantity) for line in order.lines] == [(ids["radish"], 3)]
    assert session.get(Product, ids["radish"]).stock == 2
    session.rollback()
    page = client.get(f"/staff/orders/{order_id}").get_data(as_text=True)
    assert "内容を変更（電話受付" in page
    cancelled = client.post(f"/staff/orders/{order_id}/cancel-order",
                            data={"csrf_token": csrf_of(page), "date": "2026-12-01"})
    assert cancelled.status_code == 302
    session.expire_all()
    assert session.get(Order, order_id).status is OrderStatus.CANCELLED
    assert session.get(Product, ids["radish"]).stock == 5
    session.rollback()
    assert "取り消し済み" in client.get(f"/staff/orders/{order_id}").get_data(as_text=True)
    assert client.get("/staff/orders/99999").status_code == 404


def test_changing_after_the_cutoff_is_refused(app, client, session, clock) -> None:
    ids = _town(session)
    order_id = _phoned_order(session, ids, ("radish", 2))
    sign_in(client)
    page = client.get(f"/staff/orders/{order_id}").get_data(as_text=True)
    clock.advance(timedelta(hours=3))
    refused = client.post(f"/staff/orders/{order_id}/change", data={
        "csrf_token": csrf_of(page), f"q_{ids['radish']}": "1"}, follow_redirects=True)
    assert "締め切りを過ぎた" in refused.get_data(as_text=True)
    assert session.get(Order, order_id).lines[0].quantity == 2


def test_a_readonly_account_reads_but_gets_403_on_every_post(app, client, session) -> None:
    ids = _town(session)
    order_id, resident_id = _phoned_order(session, ids, ("radish", 1)), ids["resident"]
    sign_in(client, "readonly")
    assert client.get("/staff/residents?q=山田").status_code == 200
    page = client.get(f"/staff/orders/{order_id}").get_data(as_text=True)
    assert "内容を変更する" not in page
    assert "電話で注文を受ける" not in client.get(f"/staff/residents/{resident_id}").get_data(as_text=True)
    assert client.get(f"/staff/residents/{resident_id}/order").status_code == 403
    token = csrf_of(client.get("/staff/residents").get_data(as_text=True))
    data = {"csrf_token": token, f"q_{ids['radish']}": "1", "key": "k" * 20, "delivery_date": "2026-12-01"}
    for url in (f"/staff/residents/{resident_id}/order/quote", f"/staff/residents/{resident_id}/order/confirm",
                f"/staff/orders/{order_id}/change"):
        assert client.post(url, data=data).status_code == 403, url
    assert len(session.scalars(select(Order)).all()) == 1
    assert session.get(Order, order_id).lines[0].quantity == 1


def test_the_detail_page_shows_the_run_and_stop_once_planned(app, client, session, town) -> None:  # noqa: F811
    from datetime import date

    from delivery.runner import plan_day
    order_id = town["orders"][0]
    session.rollback()
    sign_in(client)
    assert "配達便はまだ決まっていません" in client.get(f"/staff/orders/{order_id}").get_data(as_text=True)
    plan_day(app, delivery_date=date(2026, 12, 1), actor="staff:test", time_limit_s=1)
    page = client.get(f"/staff/orders/{order_id}").get_data(as_text=True)
    assert "/staff/runs/" in page and "番目" in page and "到着予定" in page
