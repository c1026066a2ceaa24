"""The ``otodoke`` ops commands, registered on the app by the factory (``otodoke db …`` here, the rest
from their packages). Each command is a thin wrapper over a service, as in flaskr's ``init-db``.
"""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from accounts.cli import create_admin_command
from core import migrate
from core.db import db
from delivery.cli import COMMANDS as delivery_commands
from demo.cli import COMMANDS as demo_commands
from links.service import issue_link_code_command
from otodoke import runner
from residents.cli import COMMANDS as resident_commands


@click.group("db", help="Database schema (Alembic migrations).")
def db_group() -> None:
    pass


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION."""
    migrate.upgrade(db.engine, revision)
    click.echo(f"database at {revision}: {db.engine.url.render_as_string(hide_password=True)}")


@db_group.command("revision")
@click.option("-m", "--message", required=True)
@with_appcontext
def db_revision(message: str) -> None:
    """Autogenerate a new migration from the models (for developers)."""
    migrate.revision(current_app.config["DATABASE_URL"], message)


def init_app(app: Flask) -> None:
    app.cli.add_command(db_group)
    for command in _package_commands():
        app.cli.add_command(command)


def _package_commands() -> list[click.Command]:
    """Commands that live with their domain packages."""
    return [*runner.COMMANDS, *demo_commands, *delivery_commands, *resident_commands, issue_link_code_command,
            create_admin_command]
