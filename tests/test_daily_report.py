"""The staff's daily report (/staff/report, issue #10): real orders placed through the ordering service,
a real plan, stops recorded through the driver's service, then the sums checked against what happened;
the range refusals, the CSV's BOM and its guard against formula injection."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from core.clock import JST
from delivery.models import Plan, RunStop
from delivery.notices import eta_window
from delivery.report import MAX_DAYS, daily_report
from delivery.runner import plan_day
from delivery.stops import record_stop_outcome
from orders.models import Order
from orders.service import LineItem, cancel_order, place_order
from tests.accounts_support import sign_in
from tests.factories import make_district, make_driver, make_product, make_resident, make_shop, make_vehicle

DAY = date(2026, 12, 1)          # the conftest clock: Tue 08:00 JST, before the central 10:00 cutoff
PLACED = datetime(2026, 12, 1, 8, 0, tzinfo=JST)
FORMULA_SHOP = "=HYPERLINK(\"http://x\")直売所"


@pytest.fixture
def day(app, session):  # type: ignore[no-untyped-def]
    """Five orders on DAY (one cancelled before planning), one van, then four doors recorded by the
    driver: on time with the exact cash, late with 100 yen short, 不在, and a door paid in local
    currency (no cash due)."""
    district = make_district(session)
    farm = make_shop(session, name=FORMULA_SHOP, lat=38.110, lon=140.030)
    grocer = make_shop(session, name="本町商店", lat=38.104, lon=140.046)
    radish = make_product(session, farm, name="大根", price_yen=150, stock=50)
    tofu = make_product(session, grocer, name="豆腐", kana="とうふ", unit="丁", price_yen=120, stock=50)
    van = make_vehicle(session, name="軽バン1号", shift_start="09:00", shift_end="17:00")
    make_driver(session, van, name="@配達 一郎", line_user_id="Udriver")
    people = [make_resident(session, district, lat=38.1075 + 0.004 * i, lon=140.0405 - 0.003 * i,
                            payment_method="local_currency" if i == 3 else "cash") for i in range(5)]
    session.commit()
    orders = [place_order(session, resident_id=person.id, placed_by="test", channel="web", now=PLACED,
                          items=[LineItem(radish.id, 1 + i)] + ([LineItem(tofu.id, 2)] if i % 2 else []))
              for i, person in enumerate(people)]
    session.commit()
    cancel_order(session, order_id=orders[4].id, actor="test", channel="web", now=PLACED)
    session.commit()
    ids = [order.id for order in orders]
    session.rollback()
    outcome = plan_day(app, delivery_date=DAY, actor="staff:test", time_limit_s=1)
    assert outcome.unassigned == 0
    door = {order_id: stop for stop in session.scalars(select(RunStop).where(RunStop.kind == "delivery"))
            for order_id in stop.order_ids}
    for stop in session.scalars(select(RunStop).where(RunStop.kind == "pickup")):
        record_stop_outcome(session, stop_id=stop.id, outcome="done", actor="driver:1", channel="web", now=stop.eta)
    totals = {order_id: session.get(Order, order_id).total_yen for order_id in ids}
    on_time, late, absent, paid_otherwise = (door[order_id] for order_id in ids[:4])
    record_stop_outcome(session, stop_id=on_time.id, outcome="done", actor="driver:1", channel="web",
                        now=on_time.eta, cash_yen=totals[ids[0]])
    record_stop_outcome(session, stop_id=late.id, outcome="done", actor="driver:1", channel="web",
                        now=late.eta + timedelta(hours=2), cash_yen=totals[ids[1]] - 100)
    record_stop_outcome(session, stop_id=absent.id, outcome="not_at_home", actor="driver:1", channel="web",
                        now=absent.eta)
    record_stop_outcome(session, stop_id=paid_otherwise.id, outcome="done", actor="driver:1", channel="web",
                        now=paid_otherwise.eta)
    plan = session.scalars(select(Plan).where(Plan.active.is_(True))).one()
    run = plan.runs[0]
    figures = {"ids": ids, "totals": totals, "km": round(run.distance_m / 1000, 1),
               "hours": round(run.duration_s / 3600, 1)}
    session.commit()
    return figures


def test_the_sums_are_what_happened(app, session, day) -> None:
    report = daily_report(session, first=DAY - timedelta(days=6), last=DAY)
    assert [d.day for d in report.days] == [DAY - timedelta(days=6 - i) for i in range(7)]
    assert all(d.delivered == d.cancelled == d.sales_yen == 0 and not d.runs for d in report.days[:-1])
    today = report.days[-1]
    assert (today.delivered, today.cancelled, today.not_at_home) == (3, 1, 1)
    # sales: delivered orders' lines only (orders 0, 1, 3: 1 + 2 + 4 radishes, tofu on 1 and 3), no fee
    assert {s.shop_name: s.yen for s in today.sales} == {FORMULA_SHOP: 150 * 7, "本町商店": 120 * 2 * 2}
    assert [(r.vehicle, r.driver, r.km, r.hours) for r in today.runs] == [
        ("軽バン1号", "@配達 一郎", day["km"], day["hours"])]
    assert (today.doors_delivered, today.doors_on_time) == (3, 2)
    [cash] = today.cash
    totals, ids = day["totals"], day["ids"]
    # due: the two cash doors delivered (not 不在, not the local-currency one, not the cancelled order)
    assert (cash.due_yen, cash.collected_yen, cash.difference_yen, cash.unrecorded) == (
        totals[ids[0]] + totals[ids[1]], totals[ids[0]] + totals[ids[1]] - 100, -100, 0)


def test_on_time_means_inside_the_window_the_resident_was_told(app, session, day) -> None:
    stops = session.scalars(select(RunStop).where(RunStop.kind == "delivery", RunStop.status == "done")).all()
    told = [eta_window(s.eta, s) for s in stops]
    done = [s.done_at.astimezone(JST).strftime("%H:%M") for s in stops]
    assert sum(start <= at <= end for (start, end), at in zip(told, done)) == 2


def _client(app, role: str = "readonly"):  # type: ignore[no-untyped-def]
    client = app.test_client()
    sign_in(client, role)
    return client


def test_the_page_shows_the_week_to_today_with_a_chart(app, day) -> None:
    page = _client(app).get("/staff/report")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "11/25（水）〜12/1（火）" in text
    assert '<svg' in text and "12/1（火） お届け済み 3件・取り消し 1件" in text
    assert "@配達 一郎" in text and "-100円" in text and "67%（2/3戸）" in text
    assert "=HYPERLINK(&#34;http://x&#34;)直売所" in text or "=HYPERLINK(&quot;http://x&quot;)直売所" in text


def test_the_dashboard_links_to_the_report(app, day) -> None:
    assert 'href="/staff/report"' in _client(app, "coordinator").get("/staff/").get_data(as_text=True)


@pytest.mark.parametrize(("query", "reason"), [
    ("from=2026-12-02&to=2026-12-01", "始めの日付が終わりの日付より後"),
    (f"from={(DAY - timedelta(days=MAX_DAYS)).isoformat()}&to=2026-12-01", f"{MAX_DAYS}日まで"),
    ("from=2026-13-01", "YYYY-MM-DD"),
])
def test_a_bad_range_is_refused_with_the_reason(app, query, reason) -> None:
    client = _client(app)
    for path in ("/staff/report", "/staff/report.csv"):
        response = client.get(f"{path}?{query}")
        assert response.status_code == 400, path
        assert reason in response.get_data(as_text=True)


def test_ninety_two_days_are_allowed(app) -> None:
    first = DAY - timedelta(days=MAX_DAYS - 1)
    assert _client(app).get(f"/staff/report?from={first.isoformat()}&to=2026-12-01").status_code == 200


def test_the_csv_opens_in_excel_and_runs_no_formula(app, day) -> None:
    response = _client(app).get("/staff/report.csv?from=2026-12-01&to=2026-12-01")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"), newline="")))
    assert rows[1][:4] == ["日付", "お届け済み（件）", "取り消し（件）", "売上（円）"]
    assert rows[2][:4] == ["2026-12-01", "3", "1", str(150 * 7 + 480)]
    cells = [cell for row in rows for cell in row]
    # a name Excel would run is quoted; the numbers (a negative difference too) stay numbers
    assert "'" + FORMULA_SHOP in cells and FORMULA_SHOP not in cells
    assert "'@配達 一郎" in cells and "@配達 一郎" not in cells
    assert "-100" in cells


def test_shops_and_drivers_cannot_open_it(app, session) -> None:
    shop = make_shop(session)
    driver = make_driver(session)
    session.commit()
    shop_id, driver_id = shop.id, driver.id
    session.rollback()
    for role, extra in (("shop", {"shop_id": shop_id}), ("driver", {"driver_id": driver_id})):
        client = app.test_client()
        sign_in(client, role, **extra)
        for path in ("/staff/report", "/staff/report.csv"):
            assert client.get(path).status_code == 403, (role, path)
