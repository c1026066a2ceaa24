"""Order-placement benchmark (not a test): N orders placed concurrently through the service layer.

    python -m benchmarks.ordering [--orders 1000 10000] [--threads 16] [--db sqlite postgresql]

Runs on a temporary SQLite file and on a throwaway PostgreSQL database (``BENCH_DATABASE_URL`` or
``TEST_DATABASE_URL``, default postgresql://postgres@127.0.0.1:5432/postgres; skipped with a message
when unreachable). Each order is its own ``db.transaction(app)``, exactly as a LINE or phone request
runs it. Some products are scarce on purpose, so sold-out refusals and lock contention are part of
the load. Oversells are counted from the ledger afterwards and must be 0.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import event, func, select

from places.models import District
from orders.errors import OrderError
from orders.models import OrderLine
from orders.placing import LineItem, place_order
from core import migrate
from core.clock import JST
from core.db import db, make_engine
from core.testdb import reachable, throwaway_database
from residents.models import Resident
from shops.models import Product, Shop, StockMovement

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=JST)   # a Tuesday before the 10:00 cutoff
RESIDENTS = 300
PRODUCTS = 60
SCARCE_EVERY = 10      # every 10th product has little stock: contention and sold-out refusals
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
WINDOWS = [{"code": "pm", "label": "午後", "start": "13:00", "end": "17:00"}]


@dataclass
class Result:
    database: str
    orders: int
    threads: int
    processes: int
    seconds: float
    latencies_ms: list[float]
    placed: int
    sold_out: int
    errors: int
    oversells: int
    queries: int
    client_cpu_ms: int   # CPU of the ordering processes (not the database server)
    server_cpu_ms: int | None = None   # CPU of the PostgreSQL backends serving them (local server only)
    connections: int = 0               # database connections opened while placing

    @property
    def rate(self) -> float:
        return self.orders / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def seed(app: Flask, orders: int) -> dict[int, int | None]:
    """A district, residents and products; returns each product's initial stock (None = unlimited)."""
    rng = random.Random(7)
    initial: dict[int, int | None] = {}
    with db.transaction(app) as session:
        district = District(code="bench", name="中央", kana="ちゅうおう", delivery_weekdays="012345",
                            cutoff_days_before=0, cutoff_time="10:00", skip_public_holidays=True,
                            windows=WINDOWS, centre_lat=38.1075, centre_lon=140.0405, depot_name="市役所",
                            depot_lat=38.1075, depot_lon=140.0405, fee_yen=100)
        session.add(district)
        session.flush()
        session.add_all(Resident(name=f"利用者{i}", kana=f"りようしゃ{i}", address=f"長井市本町{i}",
                                 district_id=district.id, line_user_id=f"Ubench{i:05d}" if i % 3 else None,
                                 created_at=NOW) for i in range(RESIDENTS))
        shops = [Shop(name=f"店{i}", kana=f"みせ{i}", kind="shop", address="長井市", lat=38.1, lon=140.04)
                 for i in range(6)]
        session.add_all(shops)
        session.flush()
        for i in range(PRODUCTS):
            if i % SCARCE_EVERY == 0:
                stock: int | None = 20
            elif i % 7 == 0:
                stock = None
            else:
                stock = orders * 2   # plenty: most orders succeed
            product = Product(shop_id=shops[i % len(shops)].id, name=f"商品{i}", kana=f"しょうひん{i}",
                              category="食品", unit="個", price_yen=rng.randrange(80, 800, 10), stock=stock)
            session.add(product)
            session.flush()
            initial[product.id] = stock
    return initial


def basket(i: int, product_ids: list[int], resident_ids: list[int]) -> tuple[int, list[LineItem]]:
    rng = random.Random(i)
    chosen = rng.sample(product_ids, rng.randint(1, 4))
    return rng.choice(resident_ids), [LineItem(p, rng.randint(1, 3)) for p in chosen]


def bench_app(url: str) -> Flask:
    """Only the database extension: the service layer is what is measured, not the web surfaces."""
    app = Flask("otodoke_bench")
    app.config["DATABASE_URL"] = url
    db.init_app(app)
    return app


def place_slice(url: str, indices: range, threads: int, product_ids: list[int],
                resident_ids: list[int], ready: Any = None) -> tuple[list[float], dict[str, int]]:
    """Place orders ``indices`` with ``threads`` threads: latencies (ms) and counts (outcomes,
    statements, client CPU ms)."""
    app = bench_app(url)
    engine = db.bound(app).engine
    lock = threading.Lock()
    latencies: list[float] = []
    outcome = {"placed": 0, "sold_out": 0, "errors": 0, "queries": 0}

    def count(*_: object) -> None:
        with lock:
            outcome["queries"] += 1

    # PostgreSQL's share of the CPU: each connection's server process, read from /proc (the server
    # runs on this machine) when the connection closes and at the end. Not seen: the WAL writer,
    # checkpointer and autovacuum, which serve everyone.
    backends: set[int] = set()
    server = {"cpu_ms": 0, "connections": 0, "seen": 0}

    def opened(dbapi_connection: Any, _record: Any) -> None:
        pid = getattr(getattr(dbapi_connection, "info", None), "backend_pid", None)
        with lock:
            server["connections"] += 1
            if isinstance(pid, int):
                backends.add(pid)

    def closing(dbapi_connection: Any, _record: Any) -> None:
        pid = getattr(getattr(dbapi_connection, "info", None), "backend_pid", None)
        with lock:
            if pid in backends:
                backends.discard(pid)
                used = process_cpu_ms(pid)
                if used is not None:
                    server["cpu_ms"] += used
                    server["seen"] += 1

    def one(i: int) -> None:
        resident_id, items = basket(i, product_ids, resident_ids)
        started = time.perf_counter()
        try:
            with db.transaction(app) as session:
                place_order(session, resident_id=resident_id, items=items, placed_by="bench",
                            channel="line" if i % 2 else "phone", now=NOW, idempotency_key=f"bench-{i}")
            kind = "placed"
        except OrderError as error:
            kind = "sold_out" if error.code in ("sold_out", "product_unavailable") else "errors"
        except Exception as error:  # noqa: BLE001 - counted and shown, never hidden
            kind = "errors"
            print(f"  error in order {i}: {error!r}"[:300], file=sys.stderr)
        elapsed = (time.perf_counter() - started) * 1000
        with lock:
            latencies.append(elapsed)
            outcome[kind] += 1

    if ready is not None:
        ready.wait()   # every process connected and imported: start together
    event.listen(engine, "before_cursor_execute", count)
    event.listen(engine, "connect", opened)
    event.listen(engine, "close", closing)
    cpu = time.process_time()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(one, indices))
    outcome["cpu_ms"] = int((time.process_time() - cpu) * 1000)
    event.remove(engine, "before_cursor_execute", count)
    engine.dispose()   # closes every pooled connection: "closing" reads each backend's CPU
    outcome["connections"] = server["connections"]
    # -1: not measurable (SQLite, or a server on another machine)
    outcome["server_cpu_ms"] = server["cpu_ms"] if server["seen"] else -1
    return latencies, outcome


def process_cpu_ms(pid: int) -> int | None:
    """User + system CPU of a local process so far, from /proc; None if it is not on this machine."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = int(fields[11]) + int(fields[12])   # utime, stime (fields 14 and 15 of proc(5))
    return ticks * 1000 // os.sysconf("SC_CLK_TCK")


def _child(url: str, indices: range, threads: int, product_ids: list[int], resident_ids: list[int],
           ready: Any, results: Any) -> None:
    results.put(place_slice(url, indices, threads, product_ids, resident_ids, ready))


def run_one(label: str, url: str, orders: int, threads: int, processes: int = 1) -> Result:
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    app = bench_app(url)
    initial = seed(app, orders)
    with db.reading(app) as session:
        resident_ids = list(session.scalars(select(Resident.id)))
    product_ids = list(initial)

    if processes == 1:
        started = time.perf_counter()
        slices = [place_slice(url, range(orders), threads, product_ids, resident_ids)]
        seconds = time.perf_counter() - started
    else:
        # Like gunicorn workers: separate interpreters, so the client side is not bound to one core.
        ctx = multiprocessing.get_context("spawn")
        ready, results = ctx.Barrier(processes + 1), ctx.Queue()
        children = [ctx.Process(target=_child, args=(url, range(k, orders, processes), threads,
                                                      product_ids, resident_ids, ready, results))
                    for k in range(processes)]
        for child in children:
            child.start()
        ready.wait()
        started = time.perf_counter()
        slices = [results.get() for _ in children]
        seconds = time.perf_counter() - started
        for child in children:
            child.join()

    latencies = [ms for part in slices for ms in part[0]]
    totals = {key: sum(part[1][key] for part in slices) for key in slices[0][1]}
    oversells = check_ledger(app, initial)
    db.bound(app).engine.dispose()
    server_cpu = None if any(part[1]["server_cpu_ms"] < 0 for part in slices) else totals["server_cpu_ms"]
    return Result(label, orders, threads, processes, seconds, latencies, totals["placed"],
                  totals["sold_out"], totals["errors"], oversells, totals["queries"], totals["cpu_ms"],
                  server_cpu, totals["connections"])


def check_ledger(app: Flask, initial: dict[int, int | None]) -> int:
    """Units sold beyond stock, summed over products; also any product whose ledger does not balance."""
    bad = 0
    with db.reading(app) as session:
        stocks = {pid: s for pid, s in session.execute(select(Product.id, Product.stock))}
        moved = {pid: t for pid, t in session.execute(select(StockMovement.product_id, func.sum(StockMovement.delta))
                                     .group_by(StockMovement.product_id))}
        sold = {pid: q for pid, q in session.execute(select(OrderLine.product_id, func.sum(OrderLine.quantity))
                                    .group_by(OrderLine.product_id))}
    for product_id, start in initial.items():
        if start is None:
            continue
        now_stock = stocks[product_id] or 0
        units_sold = int(sold.get(product_id) or 0)
        bad += max(0, units_sold - start)                       # sold more than there was
        bad += int(now_stock < 0)                               # never below zero
        bad += int(start + int(moved.get(product_id) or 0) != now_stock)   # ledger balances
        bad += int(start - units_sold != now_stock)             # every sold unit left the shelf once
    return bad


def print_table(results: list[Result]) -> None:
    header = ("database", "orders", "processes × threads", "orders/s", "p50 ms", "p99 ms", "oversells",
              "placed", "sold out", "errors", "statements/order", "client CPU ms/order", "server CPU ms/order",
              "connections")
    rows = [(r.database, str(r.orders), f"{r.processes} × {r.threads}", f"{r.rate:.0f}", f"{r.percentile(50):.1f}",
             f"{r.percentile(99):.1f}", str(r.oversells), str(r.placed), str(r.sold_out), str(r.errors),
             f"{r.queries / r.orders:.1f}", f"{r.client_cpu_ms / r.orders:.1f}",
             "–" if r.server_cpu_ms is None else f"{r.server_cpu_ms / r.orders:.1f}", str(r.connections))
            for r in results]
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--threads", type=int, default=16, help="threads per process")
    parser.add_argument("--processes", type=int, nargs="+", default=[1],
                        help="worker processes, like gunicorn -w (SQLite runs with 1 only)")
    parser.add_argument("--db", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    args = parser.parse_args(argv)
    pg_server = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL") or DEFAULT_PG

    results: list[Result] = []
    for database in args.db:
        if database == "postgresql" and not reachable(pg_server):
            print(f"PostgreSQL not reachable at {pg_server}: skipped", file=sys.stderr)
            continue
        for n in args.orders:
            for processes in ([1] if database == "sqlite" else args.processes):
                with ExitStack() as stack:   # a fresh database for every run
                    if database == "sqlite":
                        folder = stack.enter_context(tempfile.TemporaryDirectory())
                        url = f"sqlite:///{Path(folder) / 'bench.db'}"
                    else:
                        url = stack.enter_context(throwaway_database(pg_server, prefix="otodoke_bench"))
                    print(f"running {database}: {n} orders, {processes} × {args.threads} threads …",
                          file=sys.stderr)
                    results.append(run_one("SQLite" if database == "sqlite" else "PostgreSQL", url, n,
                                           args.threads, processes))
    print_table(results)
    return 1 if any(r.oversells or r.errors for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
