"""``otodoke run``: everything the embedded set-up needs, in one command."""

from __future__ import annotations

import atexit
import os
import subprocess
import sys

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from accounts.demo import DEMO_PASSWORD
from accounts.models import Account
from core import migrate
from core.config import channel_statuses
from core.db import db
from otodoke import demo_loader


@click.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-worker", is_flag=True, help="Do not start the background worker.")
@with_appcontext
def run_command(host: str, port: int, no_worker: bool) -> None:
    """Migrate, load the demo town if the database is empty, start the worker and the web app."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    migrate.upgrade(db.engine)
    demo_loader.seed_if_empty(app)

    if not no_worker:
        worker = subprocess.Popen([sys.executable, "-m", "otodoke.cli", "worker"])
        atexit.register(worker.terminate)

    base = f"http://{host}:{port}"
    click.echo("お届け (Otodoke) を起動しました / Otodoke is running")
    click.echo(f"  トップ        {base}/")
    _print_demo_accounts(app)
    for status in channel_statuses(app.config):
        state = "接続設定あり" if status.configured else "未設定（送信しません。サンドボックスで試せます）"
        click.echo(f"  {status.name:<12} {state}")
    # Flask's CLI sets FLASK_RUN_FROM_CLI, and app.run() then returns at once without serving.
    os.environ.pop("FLASK_RUN_FROM_CLI", None)
    app.run(host=host, port=port, threaded=True, use_reloader=False)


def _print_demo_accounts(app) -> None:  # type: ignore[no-untyped-def]
    """The demo sign-ins, on the console only and only when the demo town is loaded (never in production)."""
    if app.config.get("ENV_NAME") == "production":
        return

    with db.reading(app) as session:
        emails = list(session.scalars(select(Account.email).where(Account.is_demo.is_(True)).order_by(Account.id)))
    if emails:
        click.echo(f"  デモのログイン（パスワードはすべて {DEMO_PASSWORD}） / demo sign-ins:")
        for email in emails:
            click.echo(f"    {email}")


from otodoke.worker import COMMANDS as _WORKER_COMMANDS  # noqa: E402  (worker, outbox)

COMMANDS = [run_command, *_WORKER_COMMANDS]
