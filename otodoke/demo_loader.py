"""Loads the pilot-town demo data into an empty database (used by ``otodoke run``)."""

from __future__ import annotations

import click
from flask import Flask
from sqlalchemy import select

from delivery.models import District
from otodoke.db import db


def seed_if_empty(app: Flask) -> bool:
    """Load the fictional demo town if the database has no district yet; return True if it did.

    A database with any district is someone's real data (or the demo already), so it is left alone.
    """
    from demo.seed import seed_demo
    from otodoke import get_clock
    with db.transaction(app) as session:
        if session.scalar(select(District.id).limit(1)) is not None:
            return False
        summary = seed_demo(session, now=get_clock(app).now())
    for line in summary.lines():
        click.echo(line)
    return summary.loaded
