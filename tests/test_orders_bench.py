"""The order benchmark still runs and its oversell check can see an oversell (no timing asserted)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import update

from benchmarks import ordering as bench
from core.db import db
from shops.models import Product


def test_a_tiny_benchmark_run_places_orders_without_oversells(tmp_path: Path, database_url: str) -> None:
    url = database_url if not database_url.startswith("sqlite") else f"sqlite:///{tmp_path / 'bench.db'}"
    result = bench.run_one("test", url, orders=40, threads=4)
    assert result.errors == 0 and result.oversells == 0
    assert result.placed + result.sold_out == 40 and result.placed > 0
    assert len(result.latencies_ms) == 40


def test_the_ledger_check_counts_an_oversell(tmp_path: Path) -> None:
    app = bench.bench_app(f"sqlite:///{tmp_path / 'check.db'}")
    from core import migrate
    migrate.upgrade(db.bound(app).engine)
    initial = bench.seed(app, orders=10)
    assert bench.check_ledger(app, initial) == 0
    scarce = next(pid for pid, stock in initial.items() if stock == 20)
    with db.transaction(app) as session:   # a write that bypasses the ledger, as a bug would
        session.execute(update(Product).where(Product.id == scarce).values(stock=19))
    assert bench.check_ledger(app, initial) > 0
    db.bound(app).engine.dispose()
