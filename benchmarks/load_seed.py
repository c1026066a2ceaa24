"""``make bench-load``, step 1: the data the load script works on, and its staff sessions.

Seeds a district, two shops with six products, LINE residents and phone residents (each LINE or phone
order flow uses a resident of its own, so "one order per door per day" never merges two of the
script's orders and every confirmed flow must be exactly one order row), a shop account and a
coordinator account. Writes ``plan.json`` for the locustfile (``benchmarks/load.py``).

Staff sessions: the topology runs with ``OTODOKE_ENV=production``, where the session cookie is
``Secure`` and so never travels over the loopback's plain http. Rather than weaken that setting, the
sessions are made here the way the sign-in view makes them (``login_user`` then Flask's own signed
session cookie, with the CSRF token Flask-WTF keeps in it), with the topology's secret key, which this
machine's ``prod_local_secret`` holds (in run_prod_local.sh's PROD_LOCAL_DIR). Locust then sends that cookie as a header. The sign-in
pages themselves (argon2, TOTP) are not part of this load; they are throttled by design anyway.

    python -m benchmarks.load_seed --db URL --secret-file instance/load/topology/prod_local_secret --out DIR
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

LINE_RESIDENTS = 30000
PHONE_RESIDENTS = 6000
CATALOGUE = [(0, "大根", "だいこん", "本", 150), (0, "りんご", "りんご", "個", 120),
             (0, "人参", "にんじん", "袋", 100), (1, "牛乳", "ぎゅうにゅう", "本", 220),
             (1, "食パン", "しょくぱん", "斤", 250), (1, "卵", "たまご", "パック", 280)]


def seed(app: Any, line_residents: int = LINE_RESIDENTS, phone_residents: int = PHONE_RESIDENTS) -> dict[str, Any]:
    from accounts.models import Account
    from core.db import db
    from places.models import District
    from residents.models import Resident
    from shops.models import Product, Shop
    now = datetime.now(timezone.utc)
    line_users = [f"U{uuid.uuid4().hex}" for _ in range(line_residents)]
    phones = [f"+8190{i:08d}" for i in range(phone_residents)]
    with db.transaction(app) as session:
        # Every day a delivery day, cutoff the day before: an order placed at any hour has a next day.
        district = District(code="load", name="中央", kana="ちゅうおう", delivery_weekdays="0123456",
                            cutoff_days_before=1, cutoff_time="23:59", skip_public_holidays=False,
                            windows=[{"code": "pm", "label": "午後", "start": "13:00", "end": "17:00"}],
                            centre_lat=38.1075, centre_lon=140.0405, depot_name="市役所", depot_lat=38.1075,
                            depot_lon=140.0405, fee_yen=100)
        session.add(district)
        shops = [Shop(name=n, kana=k, kind=kind, address="長井市", lat=38.1, lon=140.04)
                 for n, k, kind in (("やまびこ直売所", "やまびこちょくばいじょ", "farm_stand"),
                                    ("まちの商店", "まちのしょうてん", "shop"))]
        session.add_all(shops)
        session.flush()
        products = [Product(shop_id=shops[s].id, name=n, kana=k, category="食品", unit=u, price_yen=p,
                            stock=10_000_000, available=True) for s, n, k, u, p in CATALOGUE]
        # A product of the shop account's own that nobody orders: its stock is what the shop users set.
        products.append(Product(shop_id=shops[1].id, name="味噌", kana="みそ", category="食品", unit="個",
                                price_yen=400, stock=50, available=True))
        session.add_all(products)
        session.flush()
        common = dict(address="長井市本町", lat=38.1, lon=140.04, district_id=district.id,
                      payment_method="cash", active=True, consented_at=now, created_at=now)
        session.add_all([Resident(name=f"負荷{i}", kana=f"ふか{i}", phone=None, line_user_id=user, **common)
                         for i, user in enumerate(line_users)])
        session.add_all([Resident(name=f"電話{i}", kana=f"でんわ{i}", phone=phone, **common)
                         for i, phone in enumerate(phones)])
        # No password anyone can use (sessions are made below); TOTP state as a signed-in coordinator has.
        accounts = [Account(email=f"load-{role}@bench.invalid", display_name=f"負荷 {role}",
                            password_hash="!unusable", role=role, shop_id=shops[1].id if role == "shop" else None,
                            driver_id=None, totp_secret=secrets.token_hex(10) if role == "coordinator" else None,
                            totp_enabled=role == "coordinator", totp_last_step=0,
                            disabled=False, generation=1, is_demo=False, created_at=now)
                    for role in ("coordinator", "shop")]
        session.add_all(accounts)
        session.flush()
        return {"district_id": district.id, "line_users": line_users, "phones": phones,
                "stock_product": products[-1].id, "accounts": {a.role: a.id for a in accounts}}


def seed_driver_runs(app: Any, *, stops: int = 40) -> dict[str, Any]:
    """A second district with ``stops`` orders placed through ``place_order`` and planned with the
    product's own ``plan_day`` (one van, one driver): the driver users mark its delivery stops.
    Its orders are not the load's (a district of their own, left out of the reconciliation)."""
    from sqlalchemy import select

    from core.clock import get_clock
    from core.db import db
    from delivery.models import Driver, Run, RunStop, Vehicle
    from delivery.runner import driver_link, plan_day
    from orders.service import LineItem, place_order
    from places.models import District
    from residents.models import Resident
    from shops.models import Product
    now = get_clock(app).now()
    with db.transaction(app) as session:
        district = District(code="load-drv", name="西", kana="にし", delivery_weekdays="0123456",
                            cutoff_days_before=1, cutoff_time="23:59", skip_public_holidays=False,
                            windows=[{"code": "pm", "label": "午後", "start": "13:00", "end": "17:00"}],
                            centre_lat=38.1075, centre_lon=140.0405, depot_name="市役所", depot_lat=38.1075,
                            depot_lon=140.0405, fee_yen=100)
        session.add(district)
        vehicle = Vehicle(name="負荷バン", capacity_crates=200, capacity_cold=50, depot_lat=38.1075,
                          depot_lon=140.0405, shift_start="08:00", shift_end="19:00", active=True)
        session.add(vehicle)
        session.flush()
        session.add(Driver(name="負荷 運転手", kana="ふか うんてんしゅ", vehicle_id=vehicle.id, active=True))
        people = [Resident(name=f"配達{i}", kana=f"はいたつ{i}", phone=None, address=f"長井市栄町{i}",
                           lat=38.10 + i * 0.0005, lon=140.03 + (i % 7) * 0.001, district_id=district.id,
                           payment_method="cash", active=True, consented_at=now, created_at=now)
                  for i in range(stops)]
        session.add_all(people)
        session.flush()
        residents = [r.id for r in people]
        product = session.scalars(select(Product.id).order_by(Product.id)).first()
    day = None
    for resident_id in residents:
        with db.transaction(app) as session:
            day = place_order(session, resident_id=resident_id, items=[LineItem(product, 1)],
                              placed_by="staff:load-seed", channel="sim", now=now).delivery_date
    plan_day(app, delivery_date=day, actor="bench:load", time_limit_s=3)
    with db.reading(app) as session:
        runs = list(session.scalars(select(Run).join(Run.plan).where(Run.plan.has(active=True))))
        out = []
        for run in runs:
            ids = list(session.scalars(select(RunStop.id).where(RunStop.run_id == run.id,
                                                                RunStop.kind == "delivery").order_by(RunStop.seq)))
            out.append({"link": driver_link(app, run), "stops": ids})
    return {"driver_runs": out}


def stock_form(page: str, product_id: int) -> dict[str, str] | None:
    """The stock form's hidden fields for one product on /shop/products (its CSRF token, and the number
    the page showed: the compare-and-set refuses a change made against a stale page)."""
    found = re.search(rf'id="stock-form-{product_id}">\s*<input type="hidden" name="csrf_token" value="([^"]+)">'
                      rf'\s*<input type="hidden" name="expected" value="([^"]*)">', page)
    return {"csrf_token": found.group(1), "expected": found.group(2)} if found else None


def session_cookie(app: Any, account_id: int) -> str:
    """The cookie the sign-in view would set for this account: Flask-Login's keys and a CSRF token."""
    from flask import session
    from flask_login import login_user
    from flask_wtf.csrf import generate_csrf

    from accounts.models import Account
    from accounts.security import signed_in_from
    from core.db import db
    with db.reading(app) as db_session:
        account = db_session.get(Account, account_id)
        signed = signed_in_from(account)
    with app.test_request_context("/", environ_base={"REMOTE_ADDR": "127.0.0.1"}):
        login_user(signed)
        generate_csrf()
        return app.session_interface.get_signing_serializer(app).dumps(dict(session))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--jobs", default="redis://127.0.0.1:6379/3")
    parser.add_argument("--secret-file", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    from core.config import normalise_database_url
    from otodoke import create_app
    secret = Path(args.secret_file).read_text().strip()
    app = create_app({"DATABASE_URL": normalise_database_url(args.db), "SECRET_KEY": secret, "JOBS_URL": args.jobs})
    plan = seed(app)
    try:
        plan.update(seed_driver_runs(app))
    except Exception as error:  # noqa: BLE001 - the rest of the mix still runs; said in the output
        print(f"!! no driver runs: {error!r}")
        plan["driver_runs"] = []
    plan["cookie_name"] = app.config["SESSION_COOKIE_NAME"]
    plan["sessions"] = {role: session_cookie(app, account_id) for role, account_id in plan["accounts"].items()}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "plan.json").write_text(json.dumps(plan))
    print(f"seeded {len(plan['line_users'])} LINE and {len(plan['phones'])} phone residents → {out / 'plan.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
