"""A district save that takes out a weekday (or a window) is refused while open orders are booked on it
(409). That check must not race with an order being placed on that weekday at the same moment (issue #10).

On PostgreSQL the two sides meet on the district row: ``save_district`` takes it FOR UPDATE before its
check, ``place_order`` reads the calendar under FOR KEY SHARE and holds it to COMMIT. Each test pauses
one side at the worst moment with a real hook at the database edge (SQLAlchemy's
``before_cursor_execute``, on the statement that follows its check) and lets the other side run; the
pause ends when the other side has finished or is seen waiting on a lock (``pg_stat_activity``).
Without either lock (negative control, shown in the report of the slice) the saver commits while the
paused order still goes in on the removed weekday.

On SQLite the same tests pass with or without the locks: every write transaction starts with BEGIN
IMMEDIATE behind one writer lock (``core/db.py``), so the other side cannot even begin until the paused
one commits; the pause there simply times out."""

from __future__ import annotations

import threading
import time
from dataclasses import fields
from datetime import date
from typing import Any

from flask import Flask
from sqlalchemy import event, select, text
from sqlalchemy.engine import Engine

from core.db import db
from core.errors import Conflict
from orders.calendar import is_delivery_day
from orders.districts import DistrictValues, save_district
from orders.models import OPEN_STATUSES, Order
from orders.service import LineItem, place_order
from places.models import District
from tests.factories import make_district, make_product, make_resident
from tests.test_pins import NOW

TUESDAY = date(2026, 12, 1)           # the conftest clock's day, 08:00, before the 10:00 cutoff


def _setup(app: Flask) -> tuple[int, int, int]:
    with db.transaction(app) as session:
        district = make_district(session)                 # Mon–Sat
        resident = make_resident(session, district)
        product = make_product(session, stock=10)
        return district.id, resident.id, product.id


def _without_tuesday(app: Flask, district_id: int) -> DistrictValues:
    with db.reading(app) as session:
        district = session.get(District, district_id)
        values = {f.name: getattr(district, f.name) for f in fields(DistrictValues)}
    return DistrictValues(**{**values, "delivery_weekdays": values["delivery_weekdays"].replace("1", "")})


def _hold_until(engine: Engine, other_done: threading.Event) -> str:
    """Wait until the other side has finished ("done") or, on PostgreSQL, is waiting on a row lock
    ("blocked"); on SQLite it cannot start before we commit, so after a second: "timeout"."""
    deadline = time.monotonic() + (15 if engine.dialect.name == "postgresql" else 1)
    while time.monotonic() < deadline:
        if other_done.wait(0.05):
            return "done"
        if engine.dialect.name == "postgresql":
            with engine.connect() as conn:
                if conn.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                                    " AND wait_event_type = 'Lock'")):
                    return "blocked"
    return "timeout"


def _pause_before(engine: Engine, prefix: str, thread: dict[str, Any], paused: threading.Event,
                  other_done: threading.Event, seen: list[str]):  # type: ignore[no-untyped-def]
    def hook(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if threading.current_thread() is thread.get("t") and statement.lstrip().upper().startswith(prefix) \
                and not paused.is_set():
            paused.set()
            seen.append(_hold_until(engine, other_done))
    return hook


def _run(first: Any, second: Any) -> None:
    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)


def _stranded(app: Flask, district_id: int) -> list[int]:
    """Open orders on a day the district no longer delivers: what the refusal exists to prevent."""
    with db.reading(app) as session:
        district = session.get(District, district_id)
        orders = session.scalars(select(Order).where(Order.district_id == district_id,
                                                     Order.status.in_(OPEN_STATUSES))).all()
        return [o.id for o in orders if not is_delivery_day(district, o.delivery_date)]  # type: ignore[arg-type]


def test_a_save_waits_for_an_order_being_placed_and_then_refuses(app: Flask, engine: Engine) -> None:
    """The order has read the calendar (Tuesday is on) and is paused just before its INSERT; the save
    that takes Tuesday out runs meanwhile. It must wait, then see the order and refuse."""
    district_id, resident_id, product_id = _setup(app)
    values = _without_tuesday(app, district_id)
    placer: dict[str, Any] = {}
    paused, saver_done, seen, results = threading.Event(), threading.Event(), [], {}
    hook = _pause_before(engine, "INSERT INTO ORDERS", placer, paused, saver_done, seen)

    def place() -> None:
        placer["t"] = threading.current_thread()
        with db.transaction(app) as session:
            results["order"] = place_order(session, resident_id=resident_id, items=[LineItem(product_id, 1)],
                                           placed_by="resident:1", channel="line", now=NOW).delivery_date

    def save() -> None:
        try:
            assert paused.wait(30)
            with db.transaction(app) as session:
                save_district(session, values, district_id=district_id, actor="staff:test", now=NOW,
                              today=TUESDAY)
            results["save"] = "saved"
        except Conflict as refusal:
            results["save"] = refusal.code
        finally:
            saver_done.set()

    event.listen(engine, "before_cursor_execute", hook)
    try:
        _run(place, save)
    finally:
        event.remove(engine, "before_cursor_execute", hook)
    assert results["order"] == TUESDAY
    assert _stranded(app, district_id) == []
    assert results["save"] == "open_orders"
    assert seen == (["blocked"] if engine.dialect.name == "postgresql" else ["timeout"])


def test_an_order_waits_for_a_save_under_way_and_books_the_calendar_as_saved(app: Flask,
                                                                              engine: Engine) -> None:
    """The save has checked (no Tuesday orders) and is paused just before its UPDATE; an order placed
    meanwhile must wait for it and then go on the next day the district still delivers."""
    district_id, resident_id, product_id = _setup(app)
    values = _without_tuesday(app, district_id)
    saver: dict[str, Any] = {}
    paused, placer_done, seen, results = threading.Event(), threading.Event(), [], {}
    hook = _pause_before(engine, "UPDATE DISTRICTS", saver, paused, placer_done, seen)

    def save() -> None:
        saver["t"] = threading.current_thread()
        with db.transaction(app) as session:
            save_district(session, values, district_id=district_id, actor="staff:test", now=NOW, today=TUESDAY)
        results["save"] = "saved"

    def place() -> None:
        try:
            assert paused.wait(30)
            with db.transaction(app) as session:
                results["order"] = place_order(session, resident_id=resident_id,
                                               items=[LineItem(product_id, 1)], placed_by="resident:1",
                                               channel="line", now=NOW).delivery_date
        finally:
            placer_done.set()

    event.listen(engine, "before_cursor_execute", hook)
    try:
        _run(save, place)
    finally:
        event.remove(engine, "before_cursor_execute", hook)
    assert results["save"] == "saved"
    assert _stranded(app, district_id) == []
    assert results["order"] == date(2026, 12, 2)          # Wednesday: Tuesday is no longer delivered
    assert seen == (["blocked"] if engine.dialect.name == "postgresql" else ["timeout"])
