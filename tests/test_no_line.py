"""Everyone gets their part without LINE (#9): a shop's picking list by SMS with a signed link to a
printable page, a driver's run link by SMS or as a QR code from staff, and an old run's page that leads
to the current one."""

from __future__ import annotations

from tests.factories import run_link_token
from tests.accounts_support import sign_in
import base64
import re
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import segno
from sqlalchemy import select

from delivery import shop_links
from delivery.driver_links import make_token
from delivery.models import Driver, Run
from delivery.runner import plan_day
from orders.models import Order
from orders.changes import cancel_order
from orders.service import LineItem, place_order
from core.clock import JST
from outbox.models import OutboxMessage
from shops.models import Product, Shop
from tests.test_planning import town  # noqa: F401  (fixture)

DAY = date(2026, 12, 1)
SHOP_PHONE, FARM_PHONE, DRIVER_PHONE = "+81238000101", "+81238000102", "+819000000901"
TWO_SMS_SEGMENTS = 2 * 67


@pytest.fixture
def nolink(session, town):  # noqa: F811
    """The planning town with the grocer (本町商店, no LINE owner) and the driver off LINE, both with
    phones; the farm keeps its LINE owner (and a phone, which must not be used)."""
    session.get(Shop, town["grocer"]).phone = SHOP_PHONE
    session.get(Shop, town["farm"]).phone = FARM_PHONE
    driver = session.scalars(select(Driver)).one()
    driver.line_user_id, driver.phone = None, DRIVER_PHONE
    session.commit()
    return town


def _plan(app, session) -> None:  # type: ignore[no-untyped-def]
    session.rollback()   # no open transaction of the test's while the app writes (SQLite's lock)
    plan_day(app, delivery_date=DAY, actor="staff:test", time_limit_s=1)
    session.rollback()


def _sms(session, kind: str, to: str) -> list[str]:  # type: ignore[no-untyped-def]
    rows = session.scalars(select(OutboxMessage).where(
        OutboxMessage.channel == "sms", OutboxMessage.kind == kind, OutboxMessage.recipient == to)
        .order_by(OutboxMessage.created_at, OutboxMessage.dedupe_key)).all()
    bodies = [m.payload["body"] for m in rows]
    session.rollback()
    return bodies


def _path(text: str, prefix: str) -> str:
    url = re.search(r"https?://\S+" + re.escape(prefix) + r"\S+", text).group(0)  # type: ignore[union-attr]
    return urlsplit(url).path


def _login(client) -> None:  # type: ignore[no-untyped-def]
    sign_in(client)


def test_shop_without_line_gets_a_short_sms_whose_link_shows_only_its_list(app, client, session, nolink) -> None:
    addresses = [o.resident.address for o in session.scalars(select(Order))]
    names = [o.resident.name for o in session.scalars(select(Order))]
    _plan(app, session)
    (body,) = _sms(session, "picking_list", SHOP_PHONE)
    assert "集荷リスト" in body and "本町商店" in body and "豆腐4丁" in body
    assert len(body) <= TWO_SMS_SEGMENTS - len("（更新）")
    # The farm has a LINE owner: its list goes by LINE, not to its phone.
    assert _sms(session, "picking_list", FARM_PHONE) == []
    page = client.get(_path(body, "/picking/"))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "本町商店" in html and "豆腐" in html and "4丁" in html
    assert "12月2日（水） まで開けます" in html
    tofu_orders = [o for o in nolink["orders"][1::2]]
    assert all(str(order_id) in html for order_id in tofu_orders)
    assert "大根" not in html and "みどり直売所" not in html          # another shop's list
    assert not any(a in html for a in addresses) and not any(n in html for n in names)
    assert "+81" not in html and "090" not in html


def test_picking_link_is_refused_when_forged_altered_or_expired(app, client, clock, nolink) -> None:
    secret = app.config["SECRET_KEY"]
    plan_day(app, delivery_date=DAY, actor="staff:test", time_limit_s=1)
    token = shop_links.make_token(secret, nolink["grocer"], DAY)
    assert client.get(f"/picking/{token}").status_code == 200
    # Someone edits the shop number in the link and keeps the signature: refused.
    payload, signature = token.rsplit(".", 1)
    other = base64.urlsafe_b64encode(f'[{nolink["farm"]},"20261201"]'.encode()).decode().rstrip("=")
    assert client.get(f"/picking/{other}.{signature}").status_code == 404
    assert client.get(f"/picking/{payload}.{signature[:-2]}xx").status_code == 404
    assert client.get(f"/picking/{shop_links.make_token('another-secret', nolink['grocer'], DAY)}").status_code == 404
    # A driver's link is no picking-list link (different salt).
    assert client.get(f"/picking/{make_token(secret, nolink['grocer'])}").status_code == 404
    # It works through the day after delivery, then no longer.
    clock.set(datetime(2026, 12, 2, 23, 59, tzinfo=JST))
    assert client.get(f"/picking/{token}").status_code == 200
    clock.set(datetime(2026, 12, 3, 0, 0, tzinfo=JST))
    response = client.get(f"/picking/{token}")
    assert response.status_code == 404 and "期限" in response.get_data(as_text=True)


def test_page_leaves_out_an_order_cancelled_after_planning(app, client, session, nolink) -> None:
    _plan(app, session)
    (body,) = _sms(session, "picking_list", SHOP_PHONE)
    cancelled = nolink["orders"][1]
    cancel_order(session, order_id=cancelled, actor="test", channel="web",
                 now=datetime(2026, 12, 1, 8, 30, tzinfo=JST))
    session.commit()
    html = client.get(_path(body, "/picking/")).get_data(as_text=True)
    assert "2丁" in html and "取り消しになった注文" in html and str(cancelled) in html


def test_replan_sends_the_shop_sms_again_only_when_its_list_changed(app, session, clock, nolink) -> None:
    _plan(app, session)
    _plan(app, session)
    tofu = session.scalars(select(Product).where(Product.shop_id == nolink["grocer"])).one()
    resident_id = session.get(Order, nolink["orders"][0]).resident_id
    clock.advance(timedelta(minutes=10))
    place_order(session, resident_id=resident_id, items=[LineItem(tofu.id, 3)], placed_by="test",
                channel="web", now=clock.now())
    session.commit()
    _plan(app, session)
    sent = _sms(session, "picking_list", SHOP_PHONE)
    # Each SMS after the first is a changed list (the solver may move the pickup time, nothing else
    # changes the text), and the new order's tofu is in the last one.
    plain = [body.removeprefix("（更新）") for body in sent]
    assert all(a != b for a, b in zip(plain, plain[1:])) and len(sent) in (2, 3)
    assert sent[-1].startswith("（更新）") and "豆腐7丁" in sent[-1] and len(sent[-1]) <= TWO_SMS_SEGMENTS


def test_driver_without_line_gets_the_run_link_by_sms(app, client, session, nolink) -> None:
    _plan(app, session)
    (body,) = _sms(session, "driver_run", DRIVER_PHONE)
    assert "配達ルート" in body and "お届け4件" in body and len(body) <= TWO_SMS_SEGMENTS
    page = client.get(_path(body, "/driver/run/")).get_data(as_text=True)
    assert "配達完了" in page and "置き換わりました" not in page


@pytest.mark.parametrize("path", ["/staff/runs/1/link", "/staff/picking/2026-12-01/1"])
def test_qr_and_print_pages_need_staff_sign_in(client, path) -> None:
    response = client.get(path)
    assert response.status_code == 302 and "/staff/login" in response.headers["Location"]


def test_staff_print_the_lists_and_show_the_run_link_as_a_qr_code(app, client, session, nolink) -> None:
    _plan(app, session)
    run_id = session.scalars(select(Run.id)).one()
    session.rollback()
    _login(client)
    dashboard = client.get("/staff/?date=2026-12-01").get_data(as_text=True)
    assert dashboard.count("集荷リストを印刷") == 2 and "SMS（リンク付き）" in dashboard
    assert dashboard.count("固定電話の番号です") == 1      # the grocer's 0238 number may not take SMS
    assert f"/staff/picking/2026-12-01/{nolink['grocer']}" in dashboard
    printed = client.get(f"/staff/picking/2026-12-01/{nolink['grocer']}").get_data(as_text=True)
    assert "印刷する" in printed and "豆腐" in printed and "大根" not in printed
    assert f"/staff/runs/{run_id}/link" in dashboard
    page = client.get(f"/staff/runs/{run_id}/link").get_data(as_text=True)
    url = re.search(r'<p class="url">([^<]+)</p>', page).group(1)  # type: ignore[union-attr]
    # The code on the page is the code of the link printed under it, and that link opens the run.
    assert segno.make(url, error="m").svg_inline(scale=8, border=4) in page
    assert "配達完了" in client.get(urlsplit(url).path).get_data(as_text=True)


def test_old_run_page_leads_to_the_current_run(app, client, session, nolink) -> None:
    _plan(app, session)
    old = run_link_token(app, session.scalars(select(Run.id)).one())
    session.rollback()
    _plan(app, session)
    page = client.get(f"/driver/run/{old}").get_data(as_text=True)
    assert "置き換わりました" in page and "LINE" not in page
    link = re.search(r'<a href="([^"]+)">新しいルートを開く</a>', page).group(1)  # type: ignore[union-attr]
    current = client.get(urlsplit(link).path).get_data(as_text=True)
    assert "置き換わりました" not in current and "配達完了" in current
    # The staff QR page of the old run sends staff on to the current run's code.
    _login(client)
    old_id = session.scalars(select(Run.id).order_by(Run.id)).first()
    new_id = session.scalars(select(Run.id).order_by(Run.id.desc())).first()
    session.rollback()
    qr_page = client.get(f"/staff/runs/{old_id}/link").get_data(as_text=True)
    assert "<svg" not in qr_page and f"/staff/runs/{new_id}/link" in qr_page


def test_old_run_page_without_a_current_run_gives_the_coordinator(app, client, session, nolink) -> None:
    _plan(app, session)
    old = run_link_token(app, session.scalars(select(Run.id)).one())
    session.scalars(select(Driver)).one().active = False     # she is off: the re-plan has no run for her
    session.commit()
    _plan(app, session)
    page = client.get(f"/driver/run/{old}").get_data(as_text=True)
    assert "置き換わりました" in page and "新しいルートを開く" not in page
    assert app.config["COORDINATOR_PHONE"] in page


def test_demo_town_reaches_shops_and_drivers_without_line(app, session) -> None:
    from demo.seed import seed_demo
    from demo.simulate import simulate_orders
    from core.db import db

    now = datetime(2026, 11, 26, 9, 0, tzinfo=JST)
    with db.transaction(app) as s:
        seed_demo(s, now=now)
        simulate_orders(s, delivery_date=DAY, count=40, seed=5, now=now)
    shops = session.scalars(select(Shop)).all()
    offline = [s for s in shops if not s.owners]
    assert len(offline) >= 15 and all(s.phone and s.phone.startswith("+8123800") for s in offline)
    drivers = session.scalars(select(Driver)).all()
    assert any(not d.line_user_id for d in drivers)
    assert all(d.phone and d.phone.startswith("+8190000") for d in drivers if not d.line_user_id)
    offline_numbers = {s.phone for s in offline}
    driver_numbers = {d.phone for d in drivers if not d.line_user_id}
    session.rollback()
    plan_day(app, delivery_date=DAY, actor="staff:test", time_limit_s=2)
    sms = session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "sms")).all()
    assert {m.recipient for m in sms if m.kind == "picking_list"} & offline_numbers
    runs = session.scalars(select(Run)).all()
    if any(r.driver and not r.driver.line_user_id for r in runs):
        assert {m.recipient for m in sms if m.kind == "driver_run"} & driver_numbers
    assert all(len(m.payload["body"]) <= TWO_SMS_SEGMENTS for m in sms if m.kind == "picking_list")


def test_same_link_every_time_so_an_unchanged_list_is_not_sent_twice(app, session, nolink) -> None:
    from delivery.notices import plan_messages
    from delivery.runner import driver_link, picking_link

    secret = app.config["SECRET_KEY"]
    assert shop_links.make_token(secret, 3, DAY) == shop_links.make_token(secret, 3, DAY)
    assert shop_links.make_token(secret, 3, DAY) != shop_links.make_token(secret, 3, DAY + timedelta(days=1))
    _plan(app, session)
    plan = session.scalars(select(Run)).one().plan

    def shop_sms() -> str:
        messages = plan_messages(session, plan, lambda run: driver_link(app, run),
                                 lambda shop_id, day: picking_link(app, shop_id, day))
        return messages[("sms", SHOP_PHONE, "picking_list")]

    assert shop_sms() == shop_sms()   # what a re-plan compares: the same plan gives the same text
