"""Concurrency: the last units, multi-line lock order, duplicate submissions and double cancels.

Each buyer is a thread with its own ``db.transaction(app)``, released together by a barrier, against the
real database (SQLite file with our engine set-up, or PostgreSQL). Every race has a negative control
that is shown to fail, so the positive test can fail too (docs/design-notes.md, "Stock").
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import pytest
from flask import Flask
from sqlalchemy import create_engine, func, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from orders.errors import OrderError
from orders.models import Order
from orders.service import LineItem, cancel_order, place_order
from core.clock import JST
from core.db import db, is_sqlite
from shops.models import Product, StockMovement
from tests.factories import make_product, make_resident, make_shop

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=JST)
T = TypeVar("T")


@dataclass
class Outcome:
    value: Any = None
    error: BaseException | None = None


def together(n: int, work: Callable[[int], T], timeout: float = 120) -> list[Outcome]:
    """Run ``work(i)`` in ``n`` threads released at the same moment; collect results and errors."""
    barrier = threading.Barrier(n)
    outcomes = [Outcome() for _ in range(n)]

    def run(i: int) -> None:
        barrier.wait()
        try:
            outcomes[i].value = work(i)
        except BaseException as error:  # noqa: BLE001 - every error is part of the result
            outcomes[i].error = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
        assert not thread.is_alive(), "a buyer hung"
    return outcomes


def unexpected(outcomes: list[Outcome]) -> list[str]:
    """Errors that would reach a user as a failure (e.g. 'database is locked', deadlocks)."""
    return [repr(o.error) for o in outcomes if o.error is not None and not isinstance(o.error, OrderError)]


def ledger_sum(session: Session, product_id: int) -> int:
    return int(session.scalar(select(func.coalesce(func.sum(StockMovement.delta), 0))
                              .where(StockMovement.product_id == product_id)) or 0)


def setup_goods(app: Flask, stock: int, residents: int, products: int = 1) -> tuple[list[int], list[int]]:
    with db.transaction(app) as session:
        shop = make_shop(session)
        product_ids = [make_product(session, shop, name=f"品{i}", stock=stock).id for i in range(products)]
        resident_ids = [make_resident(session).id for _ in range(residents)]
    return product_ids, resident_ids


# ---- I1/I2: 200 buyers for the last 5 units ------------------------------------------------------

def test_two_hundred_buyers_for_the_last_five_units(app: Flask) -> None:
    (product_id,), residents = setup_goods(app, stock=5, residents=40)
    lowest: list[int] = []
    done = threading.Event()

    def sample() -> None:
        # Watch the stock while the race runs: it must never be seen below zero.
        while not done.is_set():
            with db.reading(app) as session:
                lowest.append(session.scalar(select(Product.stock).where(Product.id == product_id)) or 0)

    def buy(i: int) -> int:
        with db.transaction(app) as session:
            return place_order(session, resident_id=residents[i % len(residents)],
                               items=[LineItem(product_id, 1)], placed_by=f"buyer:{i}",
                               channel="line" if i % 2 else "phone", now=NOW).id

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        outcomes = together(200, buy)
    finally:
        done.set()
        sampler.join()

    assert unexpected(outcomes) == []   # no "database is locked", no deadlock, no 500
    sold = [o.value for o in outcomes if o.error is None]
    refused = [o.error for o in outcomes if isinstance(o.error, OrderError)]
    assert len(sold) == 5 and len(set(sold)) == 5
    assert len(refused) == 195
    assert all(e.code == "sold_out" and "売り切れ" in e.message for e in refused)  # type: ignore[union-attr]
    assert lowest and min(lowest) >= 0
    with db.reading(app) as session:
        assert session.scalar(select(Product.stock).where(Product.id == product_id)) == 0
        assert 5 + ledger_sum(session, product_id) == 0
        assert session.scalar(select(func.count()).select_from(Order)) == 5


def naive_engine(app: Flask) -> Any:
    """What a plain set-up does: pysqlite's default deferred transactions on SQLite, READ COMMITTED on
    PostgreSQL, no guarded update. A fresh connection per thread so the barrier cannot starve the pool."""
    url = app.config["DATABASE_URL"]
    if is_sqlite(url):
        return create_engine(url, poolclass=NullPool, connect_args={"timeout": 30, "check_same_thread": False})
    return create_engine(url, poolclass=NullPool)


def test_negative_control_naive_read_check_write_oversells(app: Flask) -> None:
    (product_id,), _ = setup_goods(app, stock=5, residents=0)
    engine = naive_engine(app)
    buyers = 20
    read_done = threading.Barrier(buyers)

    def naive_buy(_: int) -> bool:
        with Session(engine) as session:
            stock = session.scalar(select(Product.stock).where(Product.id == product_id))
            read_done.wait()   # everyone has read before anyone writes: the race, made deterministic
            if stock is None or stock < 1:
                return False
            session.execute(update(Product).where(Product.id == product_id).values(stock=stock - 1))
            session.commit()
            return True

    try:
        outcomes = together(buyers, naive_buy)
    finally:
        engine.dispose()
    assert unexpected(outcomes) == []
    sold = sum(1 for o in outcomes if o.value is True)
    assert sold > 5, "the naive control should oversell; if it does not, the race test proves nothing"
    with db.reading(app) as session:
        final = session.scalar(select(Product.stock).where(Product.id == product_id))
    assert final == 4 and 5 - sold < 0   # lost updates: 20 sold, stock says only one went


# ---- I3: multi-line orders in both orders ----------------------------------------------------------

def test_crossed_multi_line_orders_never_deadlock(app: Flask) -> None:
    (a, b), residents = setup_goods(app, stock=1000, residents=20, products=2)

    def buy(i: int) -> int:
        items = [LineItem(a, 1), LineItem(b, 1)] if i % 2 else [LineItem(b, 1), LineItem(a, 1)]
        with db.transaction(app) as session:
            return place_order(session, resident_id=residents[i % 20], items=items, placed_by="r",
                               channel="line", now=NOW).id

    outcomes = together(200, buy)
    assert unexpected(outcomes) == []
    assert all(o.error is None for o in outcomes)
    with db.reading(app) as session:
        for product_id in (a, b):
            assert session.scalar(select(Product.stock).where(Product.id == product_id)) == 800
            assert 1000 + ledger_sum(session, product_id) == 800


def test_negative_control_unordered_locking_deadlocks_on_postgresql(app: Flask) -> None:
    """Two transactions taking the same two rows in opposite order, held at a barrier between their
    first and second update, deadlock: what sorting by product id prevents. (SQLite's serialised
    writers cannot deadlock, so there is nothing to show there.)"""
    if is_sqlite(app.config["DATABASE_URL"]):
        pytest.skip("SQLite writers are serialised by BEGIN IMMEDIATE: no lock cycle is possible")
    (a, b), _ = setup_goods(app, stock=10, residents=0, products=2)
    engine = naive_engine(app)
    halfway = threading.Barrier(2)

    def unordered(i: int) -> None:
        first, second = (a, b) if i == 0 else (b, a)
        with Session(engine) as session:
            session.execute(update(Product).where(Product.id == first).values(stock=Product.stock - 1))
            halfway.wait()
            session.execute(update(Product).where(Product.id == second).values(stock=Product.stock - 1))
            session.commit()

    try:
        outcomes = together(2, unordered)
    finally:
        engine.dispose()
    errors = [o.error for o in outcomes if o.error is not None]
    assert len(errors) == 1 and isinstance(errors[0], DBAPIError) and "deadlock" in str(errors[0]).lower()


# ---- duplicate submissions -------------------------------------------------------------------------

@pytest.mark.parametrize("round_", range(3))
def test_concurrent_duplicates_with_one_key_make_one_order(app: Flask, round_: int) -> None:
    (product_id,), (resident_id,) = setup_goods(app, stock=10, residents=1)
    key = f"line:event-{round_}"

    def submit(i: int) -> int:
        with db.transaction(app) as session:
            return place_order(session, resident_id=resident_id, items=[LineItem(product_id, 2)],
                               placed_by="r", channel="line", now=NOW, idempotency_key=key).id

    outcomes = together(8, submit)
    assert unexpected(outcomes) == [] and all(o.error is None for o in outcomes)
    assert len({o.value for o in outcomes}) == 1
    with db.reading(app) as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 1
        assert session.scalar(select(Product.stock).where(Product.id == product_id)) == 8


def test_negative_control_without_a_key_duplicates_become_orders(app: Flask) -> None:
    (product_id,), (resident_id,) = setup_goods(app, stock=10, residents=1)

    def submit(i: int) -> int:
        with db.transaction(app) as session:
            return place_order(session, resident_id=resident_id, items=[LineItem(product_id, 2)],
                               placed_by="r", channel="line", now=NOW).id

    outcomes = together(4, submit)
    assert len({o.value for o in outcomes}) == 4   # what the key is there to prevent


# ---- I5: double cancel ------------------------------------------------------------------------------

def test_concurrent_cancels_restock_once(app: Flask) -> None:
    (product_id,), (resident_id,) = setup_goods(app, stock=10, residents=1)
    with db.transaction(app) as session:
        order_id = place_order(session, resident_id=resident_id, items=[LineItem(product_id, 3)],
                               placed_by="r", channel="line", now=NOW).id

    def cancel(i: int) -> bool:
        with db.transaction(app) as session:
            return cancel_order(session, order_id=order_id, actor="r", channel="line", now=NOW,
                                resident_id=resident_id).already_cancelled

    outcomes = together(8, cancel)
    assert unexpected(outcomes) == []
    assert Counter(o.value for o in outcomes) == {False: 1, True: 7}
    with db.reading(app) as session:
        assert session.scalar(select(Product.stock).where(Product.id == product_id)) == 10
        assert 10 + ledger_sum(session, product_id) == 10


# ---- the SQLite writer queue (core/db.py) ---------------------------------------------------------

def test_sqlite_writer_queue_is_released_however_a_transaction_ends(app: Flask) -> None:
    """Writers queue on an in-process lock before BEGIN IMMEDIATE; a leak would stall every later
    write for the 30 s fallback. End transactions every way there is, then a write must go through
    at once from another thread."""
    if not is_sqlite(app.config["DATABASE_URL"]):
        pytest.skip("the writer queue exists only for SQLite")
    (product_id,), (resident_id,) = setup_goods(app, stock=1, residents=1)
    bound = db.bound(app)
    started = time.monotonic()
    with pytest.raises(OrderError):                      # a domain error rolls back
        with db.transaction(app) as session:
            place_order(session, resident_id=resident_id, items=[LineItem(product_id, 5)],
                        placed_by="r", channel="line", now=NOW)
    session = bound.sessions()                           # closed without commit or rollback
    session.get(Product, product_id)
    session.close()
    connection = bound.engine.connect()                  # Core: begun, then the connection closed
    connection.exec_driver_sql("SELECT 1")
    connection.close()
    with bound.engine.begin() as connection:             # Core: committed
        connection.exec_driver_sql("SELECT 1")

    def write(_: int) -> bool:
        with db.transaction(app) as session:
            session.get(Product, product_id).stock = 1  # type: ignore[union-attr]
        return True

    outcomes = together(1, write, timeout=10)
    # A leaked queue position shows as a 30 s wait in one of the steps above; all of it takes < 1 s.
    assert outcomes[0].value is True and time.monotonic() - started < 10


def test_sqlite_writers_of_other_processes_meet_on_the_file_lock(app: Flask) -> None:
    """A write transaction holds ``<database>-writer.lock`` from BEGIN to its end, so a writer in another
    process (another open file, as a gunicorn worker has) waits for it instead of SQLite's busy handler."""
    import fcntl
    import os

    from sqlalchemy import make_url

    url = app.config["DATABASE_URL"]
    if not is_sqlite(url):
        pytest.skip("the file lock exists only for SQLite")
    other = os.open(f"{make_url(url).database}-writer.lock", os.O_RDWR | os.O_CREAT)

    def free() -> bool:
        try:
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(other, fcntl.LOCK_UN)
        return True

    try:
        assert free()
        with db.transaction(app) as session:
            session.execute(select(Product.id)).all()
            assert not free()                      # held for the whole write transaction
        assert free()                              # and let go at commit
        with pytest.raises(RuntimeError):
            with db.transaction(app) as session:
                session.execute(select(Product.id)).all()
                raise RuntimeError("rolled back")
        assert free()                              # and at rollback
        with db.reading(app) as session:           # readers never take it
            session.execute(select(Product.id)).all()
            assert free()
    finally:
        os.close(other)
