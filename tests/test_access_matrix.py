"""Each role against each page it must not reach: 403 when signed in with another role, the sign-in
page when signed out. Forms carry a valid CSRF token, so a 403 is the role check, not the token check.
And object-level access: a shop sees its own picking list only, a driver their own runs only."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from delivery.models import Run
from delivery.runner import plan_day
from tests.accounts_support import csrf_of, make_account, sign_in
from orders.placing import LineItem, place_order
from tests.conftest import DEFAULT_NOW
from tests.factories import make_driver, make_product, make_resident, make_shop, make_vehicle
from tests.test_planning import town  # noqa: F401  (fixture)

DAY = date(2026, 12, 1)
ROLES = ("admin", "coordinator", "readonly", "shop", "driver")
VIEW_STAFF = {"admin", "coordinator", "readonly"}
CHANGE_STAFF = {"admin", "coordinator"}

# (method, url, roles that may reach it)
PAGES = [
    ("GET", "/staff/", VIEW_STAFF),
    ("GET", "/staff/?date=2026-12-01", VIEW_STAFF),
    ("GET", "/staff/runs/1/sheet", VIEW_STAFF),
    ("GET", "/staff/runs/1/link", VIEW_STAFF),
    ("GET", "/staff/picking/2026-12-01/1", VIEW_STAFF),
    ("GET", "/voice/messages", VIEW_STAFF),
    ("POST", "/staff/plan", CHANGE_STAFF),
    ("GET", "/staff/plan/confirm?date=2026-12-01", CHANGE_STAFF),
    ("GET", "/staff/plan/requests/1", VIEW_STAFF),
    ("POST", "/staff/orders/1/move-next", CHANGE_STAFF),
    ("POST", "/staff/orders/1/assign", CHANGE_STAFF),
    ("POST", "/staff/orders/1/cancel", CHANGE_STAFF),
    ("POST", "/staff/outbox/1/requeue", CHANGE_STAFF),
    ("POST", "/voice/messages/1/handled", CHANGE_STAFF),
    ("POST", "/staff/runs/1/revoke-link", CHANGE_STAFF),
    ("GET", "/staff/orders?date=2026-12-01", VIEW_STAFF),
    ("GET", "/staff/residents/new", CHANGE_STAFF),
    ("POST", "/staff/residents/new", CHANGE_STAFF),
    ("POST", "/staff/orders/1/cancel-order", CHANGE_STAFF),
    ("GET", "/staff/residents?q=a", VIEW_STAFF),
    ("GET", "/staff/residents/1", VIEW_STAFF),
    ("GET", "/staff/residents/1/order", CHANGE_STAFF),
    ("POST", "/staff/residents/1/order/quote", CHANGE_STAFF),
    ("POST", "/staff/residents/1/order/confirm", CHANGE_STAFF),
    ("GET", "/staff/orders/1", VIEW_STAFF),
    ("POST", "/staff/orders/1/change", CHANGE_STAFF),
    ("POST", "/staff/orders/1/move-van", CHANGE_STAFF),
    ("POST", "/staff/orders/1/unpin", CHANGE_STAFF),
    ("GET", "/staff/report", VIEW_STAFF),
    ("GET", "/staff/report.csv?from=2026-11-25&to=2026-12-01", VIEW_STAFF),
    ("GET", "/staff/master/", VIEW_STAFF),
    ("GET", "/staff/master/vehicles", VIEW_STAFF),
    ("GET", "/staff/master/vehicles/new", CHANGE_STAFF),
    ("POST", "/staff/master/vehicles/new", CHANGE_STAFF),
    ("GET", "/staff/master/vehicles/1", CHANGE_STAFF),
    ("POST", "/staff/master/vehicles/1", CHANGE_STAFF),
    ("GET", "/staff/master/drivers", VIEW_STAFF),
    ("GET", "/staff/master/drivers/new", CHANGE_STAFF),
    ("POST", "/staff/master/drivers/new", CHANGE_STAFF),
    ("GET", "/staff/master/drivers/1", CHANGE_STAFF),
    ("POST", "/staff/master/drivers/1", CHANGE_STAFF),
    ("GET", "/staff/master/shops", VIEW_STAFF),
    ("GET", "/staff/master/shops/new", CHANGE_STAFF),
    ("POST", "/staff/master/shops/new", CHANGE_STAFF),
    ("GET", "/staff/master/shops/1", CHANGE_STAFF),
    ("POST", "/staff/master/shops/1", CHANGE_STAFF),
    ("GET", "/staff/master/shops/1/products", VIEW_STAFF),
    ("GET", "/staff/master/shops/1/products/new", CHANGE_STAFF),
    ("POST", "/staff/master/shops/1/products/new", CHANGE_STAFF),
    ("GET", "/staff/master/shops/1/products/1", CHANGE_STAFF),
    ("POST", "/staff/master/shops/1/products/1", CHANGE_STAFF),
    ("GET", "/staff/master/districts", VIEW_STAFF),
    ("GET", "/staff/master/districts/new", CHANGE_STAFF),
    ("POST", "/staff/master/districts/new", CHANGE_STAFF),
    ("GET", "/staff/master/districts/1", CHANGE_STAFF),
    ("POST", "/staff/master/districts/1", CHANGE_STAFF),
    ("GET", "/staff/accounts", {"admin"}),
    ("GET", "/staff/audit", {"admin"}),
    ("POST", "/staff/accounts/invite", {"admin"}),
    ("POST", "/staff/accounts/1/role", {"admin"}),
    ("POST", "/staff/accounts/1/disable", {"admin"}),
    ("POST", "/staff/accounts/1/enable", {"admin"}),
    ("GET", "/shop/", {"shop"}),
    ("GET", "/shop/picking/2026-12-01", {"shop"}),
    ("GET", "/shop/products", {"shop"}),
    ("GET", "/shop/products/new", {"shop"}),
    ("POST", "/shop/products/new", {"shop"}),
    ("POST", "/shop/products/1/adjust", {"shop"}),
    ("POST", "/shop/products/1/stock", {"shop"}),
    ("POST", "/shop/products/1/price", {"shop"}),
    ("POST", "/shop/products/1/sold-out", {"shop"}),
    ("POST", "/shop/products/1/back", {"shop"}),
    ("GET", "/shop/products.csv", {"shop"}),
    ("GET", "/shop/import", {"shop"}),
    ("POST", "/shop/import", {"shop"}),
    ("POST", "/shop/import/apply", {"shop"}),
    ("GET", "/shop/sales", {"shop"}),
    ("GET", "/shop/sales?by=week", {"shop"}),
    ("GET", "/driver/", {"driver"}),
]


@pytest.fixture
def people(app, session):  # type: ignore[no-untyped-def]
    shop = make_shop(session, name="みどり直売所")
    driver = make_driver(session, make_vehicle(session), name="配達 一郎")
    # Resident 1 with order 1, for the pages about one resident or one order (電話受付).
    resident = make_resident(session)
    radish = make_product(session, shop)
    session.commit()
    place_order(session, resident_id=resident.id, items=[LineItem(radish.id, 1)], placed_by="test",
                channel="phone", now=DEFAULT_NOW)
    session.commit()
    ids = {"shop": shop.id, "driver": driver.id}
    session.rollback()
    return ids


def _client_for(app, role: str, people):  # type: ignore[no-untyped-def]
    client = app.test_client()
    extra = {"shop_id": people["shop"]} if role == "shop" else {"driver_id": people["driver"]} if role == "driver" else {}
    sign_in(client, role, **extra)
    return client


def _open(client, method: str, url: str):  # type: ignore[no-untyped-def]
    if method == "GET":
        return client.get(url)
    token = csrf_of(client.get("/staff/login").get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, "date": "2026-12-01", "to": "run:1", "role": "readonly"})


@pytest.mark.parametrize("role", ROLES)
def test_each_role_is_refused_every_page_it_must_not_reach(app, people, role) -> None:
    client = _client_for(app, role, people)
    for method, url, allowed in PAGES:
        if role in allowed:
            continue
        response = _open(client, method, url)
        assert response.status_code == 403, (role, method, url, response.status_code)
        assert "権限がありません" in response.get_data(as_text=True)


@pytest.mark.parametrize("role", ROLES)
def test_each_role_reaches_its_own_pages(app, people, role) -> None:
    client = _client_for(app, role, people)
    for method, url, allowed in PAGES:
        # (objects that need a fixture of their own — a run, a plan request — are tested where they are made)
        if role in allowed and method == "GET" and "/runs/1/" not in url and "/plan/requests/" not in url:
            assert client.get(url).status_code == 200, (role, url)


def test_signed_out_every_page_leads_to_sign_in(app, client) -> None:
    for method, url, _ in PAGES:
        response = _open(client, method, url)
        assert response.status_code == 302 and "/staff/login" in response.headers["Location"], (method, url)


def test_readonly_sees_the_dashboard_but_changes_nothing(app, client, session, town) -> None:  # noqa: F811
    sign_in(client, "readonly")
    page = client.get("/staff/?date=2026-12-01").get_data(as_text=True)
    assert "中央" in page
    refused = client.post("/staff/plan", data={"date": "2026-12-01", "csrf_token": csrf_of(page)})
    assert refused.status_code == 403
    assert session.scalars(select(Run.id)).all() == []


def test_a_shop_sees_only_its_own_picking_list(app, session, town) -> None:  # noqa: F811
    app.config["PLANNING_TIME_LIMIT_S"] = 1
    plan_day(app, delivery_date=DAY, actor="test", time_limit_s=1)
    session.rollback()
    farm = app.test_client()
    sign_in(farm, "shop", email="farm@test.example", shop_id=town["farm"])
    page = farm.get("/shop/picking/2026-12-01").get_data(as_text=True)
    assert "みどり直売所" in page and "大根" in page
    assert "本町商店" not in page and "豆腐" not in page
    # the shop comes from the account: there is no URL naming another shop
    assert farm.get(f"/staff/picking/2026-12-01/{town['grocer']}").status_code == 403


def test_a_driver_sees_only_their_own_runs(app, session, town) -> None:  # noqa: F811
    plan_day(app, delivery_date=DAY, actor="test", time_limit_s=1)
    (run,) = session.scalars(select(Run)).all()
    own_driver = run.driver_id
    other = make_driver(session, make_vehicle(session), name="別の配達員")
    session.commit()
    other_id = other.id
    session.rollback()
    mine = app.test_client()
    sign_in(mine, "driver", email="mine@test.example", driver_id=own_driver)
    assert "/driver/run/" in mine.get("/driver/").get_data(as_text=True)
    theirs = app.test_client()
    sign_in(theirs, "driver", email="theirs@test.example", driver_id=other_id)
    page = theirs.get("/driver/").get_data(as_text=True)
    assert "/driver/run/" not in page and "まだありません" in page
    make_account(app, "admin")   # an admin account exists, yet a driver still cannot open staff pages
    assert theirs.get(f"/staff/runs/{run.id}/sheet").status_code == 403


def test_shop_a_cannot_read_or_change_shop_bs_products(app, session) -> None:
    from tests.factories import make_product
    from tests.shop_support import product as load
    mine, theirs = make_shop(session, name="A店"), make_shop(session, name="B店")
    cabbage = make_product(session, theirs, name="白菜", stock=8, price_yen=200)
    session.commit()
    mine_id, cabbage_id = mine.id, cabbage.id
    session.rollback()
    client = app.test_client()
    sign_in(client, "shop", email="a@test.example", shop_id=mine_id)
    assert "白菜" not in client.get("/shop/products").get_data(as_text=True)
    assert "白菜" not in client.get("/shop/products.csv").data.decode("utf-8-sig")
    token = csrf_of(client.get("/shop/products").get_data(as_text=True))
    for action in ("adjust", "stock", "price", "sold-out", "back"):
        response = client.post(f"/shop/products/{cabbage_id}/{action}",
                               data={"csrf_token": token, "sign": "-", "amount": "1", "stock": "0", "expected": "8",
                                     "price": "1"})
        assert response.status_code == 404, action
    after = load(app, cabbage_id)
    assert (after.stock, after.price_yen, after.available) == (8, 200, True)
