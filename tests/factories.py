"""Small factory functions for test data (CTFd's ``gen_*`` style). Each commits nothing: the caller
adds to its session and commits, like any other caller of our services."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from places.models import District
from delivery.driver_links import make_token
from delivery.models import Driver, Run, Vehicle
from core.clock import JST
from core.db import db
from residents.models import Resident
from shops.models import Product, Shop

_seq = itertools.count(1)
CREATED = datetime(2026, 11, 1, 9, 0, tzinfo=JST)

CENTRAL_WINDOWS = [{"code": "pm", "label": "午後", "start": "13:00", "end": "17:00"}]
OUTER_WINDOWS = [
    {"code": "am", "label": "午前", "start": "09:00", "end": "12:00"},
    {"code": "pm", "label": "午後", "start": "13:00", "end": "17:00"},
]


def make_district(session: Session, **overrides: Any) -> District:
    """Default: the central district, daily except Sunday, cutoff 10:00 on the delivery day."""
    n = next(_seq)
    values: dict[str, Any] = dict(
        code=f"d{n}", name="中央", kana="ちゅうおう", delivery_weekdays="012345",
        cutoff_days_before=0, cutoff_time="10:00", skip_public_holidays=True,
        windows=CENTRAL_WINDOWS, centre_lat=38.1075, centre_lon=140.0405,
        depot_name="長井市役所", depot_lat=38.1075, depot_lon=140.0405, fee_yen=100,
    )
    values.update(overrides)
    district = District(**values)
    session.add(district)
    session.flush()
    return district


def make_outer_district(session: Session, **overrides: Any) -> District:
    """An outer district: Tuesdays and Fridays, cutoff 17:00 the day before, morning and afternoon."""
    values: dict[str, Any] = dict(name="伊佐沢", kana="いさざわ", delivery_weekdays="14",
                                  cutoff_days_before=1, cutoff_time="17:00", windows=OUTER_WINDOWS,
                                  centre_lat=38.085, centre_lon=140.075, fee_yen=200)
    values.update(overrides)
    return make_district(session, **values)


def make_resident(session: Session, district: District | None = None, **overrides: Any) -> Resident:
    n = next(_seq)
    district = district or make_district(session)
    values: dict[str, Any] = dict(
        name=f"長井 花子{n}", kana=f"ながい はなこ{n}", phone=f"+8123800{n:05d}", address=f"長井市本町{n}-1",
        lat=district.centre_lat + 0.001, lon=district.centre_lon + 0.001, district_id=district.id,
        payment_method="cash", active=True, consented_at=CREATED, created_at=CREATED,
    )
    values.update(overrides)
    resident = Resident(**values)
    session.add(resident)
    session.flush()
    return resident


def make_shop(session: Session, **overrides: Any) -> Shop:
    n = next(_seq)
    values: dict[str, Any] = dict(name=f"テスト直売所{n}", kana=f"てすとちょくばいじょ{n}", kind="farm_stand",
                                  address=f"長井市館町{n}", lat=38.105, lon=140.04)
    values.update(overrides)
    shop = Shop(**values)
    session.add(shop)
    session.flush()
    return shop


def make_product(session: Session, shop: Shop | None = None, **overrides: Any) -> Product:
    shop = shop or make_shop(session)
    values: dict[str, Any] = dict(shop_id=shop.id, name="大根", kana="だいこん", category="野菜", unit="本",
                                  price_yen=150, stock=20, available=True)
    values.update(overrides)
    product = Product(**values)
    session.add(product)
    session.flush()
    return product


def make_vehicle(session: Session, **overrides: Any) -> Vehicle:
    n = next(_seq)
    values: dict[str, Any] = dict(name=f"軽バン{n}号", capacity_crates=20, capacity_cold=4,
                                  depot_lat=38.1075, depot_lon=140.0405)
    values.update(overrides)
    vehicle = Vehicle(**values)
    session.add(vehicle)
    session.flush()
    return vehicle


def make_driver(session: Session, vehicle: Vehicle | None = None, **overrides: Any) -> Driver:
    n = next(_seq)
    values: dict[str, Any] = dict(name=f"配達 太郎{n}", kana=f"はいたつ たろう{n}",
                                  vehicle_id=vehicle.id if vehicle else None)
    values.update(overrides)
    driver = Driver(**values)
    session.add(driver)
    session.flush()
    return driver


def run_link_token(app: Any, run_id: int) -> str:
    """A driver link token for the run as the app makes one (its key and link version); for a run that is
    not there, a keyless one. Reads in its own session, so the caller's stays as it was."""
    with db.reading(app) as session:
        run = session.get(Run, run_id)
        version, key = (run.link_version or 0, run.link_key) if run else (0, None)
    return make_token(app.config["SECRET_KEY"], run_id, version=version, key=key)
