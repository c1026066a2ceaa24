"""``otodoke simulate-orders``: a realistic, reproducible day of orders through the real ordering service."""

from __future__ import annotations

from datetime import date, datetime

from flask import Flask
from sqlalchemy import Engine, func, select, text, update

from demo.seed import seed_demo
from demo.simulate import simulate_orders
from orders.models import Order, OrderLine, OrderStatus
from otodoke.all_models import metadata
from core.clock import JST
from core.db import db
from shops.models import Product, StockMovement

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=JST)
TUESDAY = date(2026, 12, 1)      # 中央 daily; 西根 and 伊佐沢 on Tuesdays
SUNDAY = date(2026, 12, 6)


def _seed(app: Flask) -> None:
    with db.transaction(app) as session:
        seed_demo(session, now=NOW)


def _wipe(engine: Engine) -> None:
    """Empty every table and restart ids, so a second run starts from the same state as the first."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        else:  # SQLite reuses max(rowid) + 1, so empty tables start again at 1
            for table in reversed(metadata.sorted_tables):
                conn.execute(table.delete())


def _orders(app: Flask) -> list[tuple[object, ...]]:
    with db.reading(app) as session:
        orders = session.scalars(select(Order).order_by(Order.id)).all()
        return [(o.resident_id, o.delivery_date, o.window_code, o.total_yen, o.created_at,
                 tuple((line.product_id, line.quantity) for line in o.lines)) for o in orders]


def test_simulate_orders_command_is_reproducible(app: Flask, runner, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    _seed(app)
    first = runner.invoke(args=["simulate-orders", "--date", TUESDAY.isoformat(), "--count", "60",
                                "--seed", "7"])
    assert first.exit_code == 0, first.output
    assert "架空" in first.output and "注文 60 件" in first.output
    orders = _orders(app)
    assert len(orders) == 60

    # Same command again on the same database: the idempotency keys make it add nothing.
    again = runner.invoke(args=["simulate-orders", "--date", TUESDAY.isoformat(), "--count", "60",
                                "--seed", "7"])
    assert again.exit_code == 0 and "新規 0" in again.output
    assert _orders(app) == orders

    # A fresh database with the same demo town and seed gives exactly the same orders...
    _wipe(engine)
    _seed(app)
    assert runner.invoke(args=["simulate-orders", "--date", TUESDAY.isoformat(), "--count", "60",
                               "--seed", "7"]).exit_code == 0
    assert _orders(app) == orders
    # ...and another seed gives another day (other residents, other baskets).
    runner.invoke(args=["simulate-orders", "--date", TUESDAY.isoformat(), "--count", "60", "--seed", "8"])
    other = _orders(app)[len(orders):]
    assert len(other) > 0
    # Nobody orders twice for one day: seed 8 leaves out the residents seed 7 already served.
    assert not {o[0] for o in other} & {o[0] for o in orders}


def test_simulated_day_is_plausible(app: Flask) -> None:
    _seed(app)
    with db.transaction(app) as session:
        report = simulate_orders(session, delivery_date=TUESDAY, count=80, seed=3, now=NOW)
    assert report.districts == ("chuo", "nishine", "isazawa")
    assert set(report.skipped_districts) == {"chiho", "hirano", "toyoda"}
    with db.reading(app) as session:
        orders = session.scalars(select(Order)).all()
        assert len(orders) == len(report.orders) > 0
        assert len({o.resident_id for o in orders}) == len(orders)          # one order per resident
        for order in orders:
            assert order.delivery_date == TUESDAY and order.status is OrderStatus.CONFIRMED
            assert order.channel == "sim" and order.placed_by == "sim"
            assert order.created_at < order.cutoff_at                       # placed before the cutoff
            assert 1 <= len(order.lines) <= 5
            assert order.total_yen == sum(line.line_total_yen for line in order.lines) + order.fee_yen
            assert order.resident.district.code in report.districts
        sizes = [len(o.lines) for o in orders]
        assert 1.8 <= sum(sizes) / len(sizes) <= 3.5
        staples = session.scalar(select(func.count()).select_from(OrderLine).join(Product, Product.id == OrderLine.product_id)
                                 .where(Product.category.in_(["野菜", "豆腐", "パン", "卵・乳製品", "惣菜", "果物"])))
        lines = session.scalar(select(func.count()).select_from(OrderLine))
        assert staples > lines / 2                                           # mostly everyday staples
        shops_per_order = [len({line.shop_id for line in o.lines}) for o in orders]
        assert sum(shops_per_order) / len(orders) < 2.5
        assert max(shops_per_order) <= 3 and 3 in shops_per_order              # one to three shops, as in the pilot
        # Stock never negative, and the ledger still adds up.
        assert session.scalar(select(func.count()).select_from(Product).where(Product.stock < 0)) == 0
        for product in session.scalars(select(Product).where(Product.stock.is_not(None))):
            total = session.scalar(select(func.sum(StockMovement.delta))
                                   .where(StockMovement.product_id == product.id))
            assert total == product.stock


def test_sold_out_lines_are_reported_not_hidden(app: Flask) -> None:
    _seed(app)
    with db.transaction(app) as session:
        # Everything that is counted has sold out; only made-to-order bread is left.
        session.execute(update(Product).where(Product.stock.is_not(None)).values(stock=0))
        report = simulate_orders(session, delivery_date=TUESDAY, count=40, seed=11, now=NOW)
    assert report.sold_out, "a day with nothing in stock must report sold-out lines"
    assert all(line.left == 0 and line.wanted >= 1 and line.name for line in report.sold_out)
    text_out = "\n".join(report.lines())
    assert "売り切れ" in text_out
    with db.reading(app) as session:
        for order in session.scalars(select(Order)):
            assert all(line.product.stock is None for line in order.lines)
    # Every wanted line is accounted for: placed, or reported as sold out.
    placed_lines = sum(len(o.items) for o in report.orders)
    assert placed_lines + len(report.sold_out) >= len(report.orders) + len(report.emptied)
    assert len(report.orders) + len(report.emptied) + len(report.failures) == 40
    assert report.already_ordered == ()


def test_no_delivery_day(app: Flask, runner) -> None:  # type: ignore[no-untyped-def]
    _seed(app)
    result = runner.invoke(args=["simulate-orders", "--date", SUNDAY.isoformat(), "--count", "10"])
    assert result.exit_code == 1
    assert "配達のある地区はありません" in result.output
    assert _orders(app) == []
    bad = runner.invoke(args=["simulate-orders", "--date", "12/01", "--count", "10"])
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output


def test_public_holiday_skips_districts_that_skip_holidays(app: Flask) -> None:
    _seed(app)
    with db.transaction(app) as session:
        # 2026-11-23 (Mon) is 勤労感謝の日.
        report = simulate_orders(session, delivery_date=date(2026, 11, 23), count=5, seed=1, now=NOW)
    assert report.districts == () and report.orders == ()
