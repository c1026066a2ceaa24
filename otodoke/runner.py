"""``otodoke run``: everything the embedded set-up needs, in one command."""

from __future__ import annotations

import atexit
import os
import subprocess
import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from otodoke import migrate
from otodoke.config import channel_statuses
from otodoke.db import db


@click.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-worker", is_flag=True, help="Do not start the background worker.")
@with_appcontext
def run_command(host: str, port: int, no_worker: bool) -> None:
    """Migrate, load the demo town if the database is empty, start the worker and the web app."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    migrate.upgrade(db.engine)
    from otodoke import demo_loader
    demo_loader.seed_if_empty(app)

    if not no_worker:
        worker = subprocess.Popen([sys.executable, "-m", "otodoke.cli", "worker"])
        atexit.register(worker.terminate)

    base = f"http://{host}:{port}"
    click.echo("お届け (Otodoke) を起動しました / Otodoke is running")
    click.echo(f"  トップ        {base}/")
    for status in channel_statuses(app.config):
        state = "接続設定あり" if status.configured else "未設定（送信しません。サンドボックスで試せます）"
        click.echo(f"  {status.name:<12} {state}")
    # Flask's CLI sets FLASK_RUN_FROM_CLI, and app.run() then returns at once without serving.
    os.environ.pop("FLASK_RUN_FROM_CLI", None)
    app.run(host=host, port=port, threaded=True, use_reloader=False)


from outbox.cli import COMMANDS as _OUTBOX_COMMANDS  # noqa: E402  (worker, outbox)

COMMANDS = [run_command, *_OUTBOX_COMMANDS]
