"""Loads the pilot-town demo data into an empty database (used by ``otodoke run``)."""

from __future__ import annotations

from datetime import timedelta

import click
from flask import Flask
from sqlalchemy import select

from delivery.runner import plan_day
from demo.seed import seed_demo
from demo.simulate import simulate_orders
from places.models import District
from core.clock import JST, get_clock
from core.db import db

DEMO_ORDERS = 120


def seed_if_empty(app: Flask) -> bool:
    """Load the fictional demo town if the database has no district yet; return True if it did.

    A database with any district is someone's real data (or the demo already), so it is left alone.
    """
    now = get_clock(app).now()
    if app.config.get("ENV_NAME") == "production":
        # An empty production database is a town about to start, not a demo (issue #12, hole 6).
        click.echo("本番環境（OTODOKE_ENV=production）のため、デモデータは読み込みません。"
                   "最初のアカウントは `otodoke create-admin` で作ってください。")
        return False
    with db.transaction(app) as session:
        if session.scalar(select(District.id).limit(1)) is not None:
            return False
        summary = seed_demo(session, now=now)
    for line in summary.lines():
        click.echo(line)
    # A day of orders to plan, so the staff page and the route sheets have something to show.
    tomorrow = now.astimezone(JST).date() + timedelta(days=1)
    with db.transaction(app) as session:
        report = simulate_orders(session, delivery_date=tomorrow, count=DEMO_ORDERS, seed=1, now=now)
    click.echo(f"デモ注文 {report.new_orders} 件（{tomorrow:%m月%d日}配達分、架空） / demo orders for {tomorrow}")
    # ... planned at once, so the runs, route sheets and messages can be looked at without waiting for
    # the cutoff (the cutoff job plans the day again as a new version when it comes)
    click.echo("デモの配達計画を作成しています（10〜30秒ほど） / planning the demo day (10-30 s) …")
    outcome = plan_day(app, delivery_date=tomorrow, actor="demo")
    click.echo(outcome.message)
    return summary.loaded
