"""``otodoke seed-demo`` and ``otodoke simulate-orders``: thin wrappers over demo.seed and demo.simulate."""

from __future__ import annotations

from datetime import date

import click
from flask import current_app
from flask.cli import with_appcontext

from core.errors import DomainError


@click.command("seed-demo")
@click.option("--seed", default=None, type=int, help="Random seed for the residents (default 20261126).")
@click.option("--force", is_flag=True, help="Add the demo town even if the database has other districts.")
@with_appcontext
def seed_demo_command(seed: int | None, force: bool) -> None:
    """Load the fictional demo town (Nagai). Running it again changes nothing."""
    from demo.seed import DEFAULT_SEED, seed_demo
    from core.clock import get_clock
    from core.db import db
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        with db.transaction(app) as session:
            summary = seed_demo(session, now=get_clock(app).now(), seed=DEFAULT_SEED if seed is None else seed,
                                force=force)
    except DomainError as error:
        raise click.ClickException(error.message) from error
    for line in summary.lines():
        click.echo(line)


@click.command("simulate-orders")
@click.option("--date", "date_text", required=True, help="Delivery date, YYYY-MM-DD.")
@click.option("--count", default=50, show_default=True, type=click.IntRange(0, 5000))
@click.option("--seed", default=1, show_default=True, type=int)
@with_appcontext
def simulate_orders_command(date_text: str, count: int, seed: int) -> None:
    """Place a realistic day of orders for one delivery date through the real ordering service.

    Order times are simulated (the three hours before each district's cutoff), not the clock's now.
    """
    from demo.simulate import simulate_orders
    from core.clock import get_clock
    from core.db import db
    try:
        delivery_date = date.fromisoformat(date_text)
    except ValueError as error:
        raise click.BadParameter("YYYY-MM-DD で指定してください", param_hint="--date") from error
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    with db.transaction(app) as session:
        report = simulate_orders(session, delivery_date=delivery_date, count=count, seed=seed,
                                 now=get_clock(app).now())
    for line in report.lines():
        click.echo(line)
    if not report.districts:
        raise SystemExit(1)


COMMANDS = [seed_demo_command, simulate_orders_command]
