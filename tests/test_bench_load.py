"""The load bench's staff sessions (benchmarks/load_seed.py): the cookie it makes is the one the app
accepts for that account, CSRF token included, and nothing else gets in."""

from __future__ import annotations

import re

from sqlalchemy import select

from benchmarks.load_seed import seed, session_cookie, stock_form
from core.db import db
from shops.models import Product


def _use(client, plan, role) -> None:  # type: ignore[no-untyped-def]
    # Locust sends it as a fixed Cookie header (the cookie is Secure, so over plain http a refreshed one
    # from a response is never sent back): set again before each request, whatever the jar got since.
    app = client.application
    made = plan.setdefault("made", {})
    if role not in made:                 # made once, as benchmarks.load_seed writes it to plan.json
        made[role] = session_cookie(app, plan["accounts"][role])
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], made[role])


def test_a_made_coordinator_session_opens_staff_pages(app, client) -> None:  # type: ignore[no-untyped-def]
    plan = seed(app, line_residents=3, phone_residents=2)
    assert client.get("/staff/").status_code == 302    # signed out: to the sign-in page
    _use(client, plan, "coordinator")
    assert client.get("/staff/").status_code == 200
    assert client.get("/staff/residents?q=電話1").status_code == 200


def test_a_made_shop_session_sets_stock_with_the_pages_csrf_token(app, client) -> None:  # type: ignore[no-untyped-def]
    plan = seed(app, line_residents=1, phone_residents=1)
    _use(client, plan, "shop")
    page = client.get("/shop/products").get_data(as_text=True)
    product = plan["stock_product"]
    fields = stock_form(page, product)
    assert fields is not None and fields["expected"] == "50"
    _use(client, plan, "shop")
    answer = client.post(f"/shop/products/{product}/stock", data={"stock": "77", **fields})
    assert answer.status_code in (302, 303)
    with db.reading(app) as session:
        assert session.scalar(select(Product.stock).where(Product.id == product)) == 77
    # A forged token is refused (400), and a coordinator session is no shop session.
    _use(client, plan, "shop")
    assert client.post(f"/shop/products/{product}/stock", data={"stock": "1", "expected": "77", "csrf_token": "x"}).status_code == 400
    _use(client, plan, "coordinator")
    assert client.get("/shop/products").status_code == 403


def test_the_driver_runs_are_planned_and_a_tap_records_a_stop(app, client) -> None:  # type: ignore[no-untyped-def]
    from delivery.models import RunStop
    from benchmarks.load_seed import seed_driver_runs
    seed(app, line_residents=1, phone_residents=1)
    runs = seed_driver_runs(app, stops=4)["driver_runs"]
    assert runs and sum(len(r["stops"]) for r in runs) == 4
    path = "/driver/run/" + runs[0]["link"].rsplit("/driver/run/", 1)[1]
    page = client.get(path).get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    stop = runs[0]["stops"][0]
    assert client.post(f"{path}/stops/{stop}", data={"outcome": "done", "csrf_token": token}).status_code == 302
    with db.reading(app) as session:
        assert session.get(RunStop, stop).status == "done"
