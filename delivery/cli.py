"""``otodoke plan --date D``: plan or re-plan a delivery day from the command line."""

from __future__ import annotations


import click
from flask import current_app
from flask.cli import with_appcontext

from core.errors import DomainError
from delivery.runner import plan_day


@click.command("plan")
@click.option("--date", "day", required=True, type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Delivery date, YYYY-MM-DD.")
@click.option("--time-limit", type=float, default=None, help="Solver seconds (default: config).")
@with_appcontext
def plan_command(day, time_limit: float | None) -> None:  # type: ignore[no-untyped-def]
    """Plan the delivery runs of a day (a new plan version; done stops are kept)."""
    try:
        outcome = plan_day(current_app._get_current_object(), delivery_date=day.date(),  # type: ignore[attr-defined]
                           actor="staff:cli", time_limit_s=time_limit)
    except DomainError as error:   # e.g. a day that is over: the same refusal as the staff page
        raise click.ClickException(error.message) from error
    click.echo(outcome.message)
    if outcome.created:
        click.echo(f"plan {outcome.plan_id}: {outcome.orders} orders, {outcome.unassigned} unassigned, "
                   f"{outcome.messages} messages queued")


COMMANDS = [plan_command]
