"""``otodoke worker`` (the Huey consumer with our tasks) and the ``otodoke outbox`` staff commands."""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from huey.consumer import ConsumerStopped

from otodoke import jobs
from core.db import db
from outbox.models import OutboxStatus
from outbox.registry import senders_for, unconfigured_channels
from outbox.worker import list_messages, status_counts

log = logging.getLogger("otodoke.worker")


@click.command("worker")
@click.option("--workers", type=int, default=None, envvar="OTODOKE_WORKER_THREADS",
              help="Worker threads (Redis queue only; an SQLite queue always uses one).")
@click.option("--no-periodic", is_flag=True, help="Do not run the minute sweep (tests).")
@click.option("--run-for", type=float, default=None, metavar="SECONDS",
              help="Stop gracefully after SECONDS (smoke tests); default: run until signalled.")
@with_appcontext
def worker_command(workers: int | None, no_periodic: bool, run_for: float | None) -> None:
    """Send queued LINE/SMS messages: run the job consumer in this process."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        # twilio's client logs whole requests at INFO (phone numbers, message text): keep them out.
        logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
    run_worker(app, workers=workers, periodic=not no_periodic, run_for=run_for)


def run_worker(app: Flask, *, workers: int | None = None, periodic: bool = True,
               run_for: float | None = None) -> None:
    """Run the consumer until a signal (or ``run_for`` seconds); one consumer per SQLite queue."""
    with _single_consumer(app):
        consumer = jobs.make_consumer(app, workers=workers, periodic=periodic)
        senders = sorted(senders_for(app))
        waiting = unconfigured_channels(app)
        click.echo(f"otodoke worker: queue {_describe(app)}, senders: {', '.join(senders) or 'none'}")
        if waiting:
            click.echo(f"  not configured (messages wait in the outbox): {', '.join(waiting)}")
        if run_for is None:
            consumer.run()
            return
        consumer.start()
        deadline = time.monotonic() + run_for
        health = time.monotonic()
        try:
            while time.monotonic() < deadline:
                health = consumer.loop(health)
        except ConsumerStopped:
            pass
        else:
            consumer.stop(graceful=True)
        click.echo("otodoke worker: stopped")


def _describe(app: Flask) -> str:
    url = app.config["JOBS_URL"]
    return url.split("@")[-1] if url.startswith("redis") else url  # never print a Redis password


@contextmanager
def _single_consumer(app: Flask) -> Iterator[None]:
    """Refuse a second consumer on the same SQLite queue; the OS drops the lock if we are killed."""
    if not jobs.is_sqlite_queue(app):
        yield
        return
    path = app.config["JOBS_URL"][len("sqlite:///"):] + ".consumer.lock"
    handle: IO[str] = open(path, "a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise click.ClickException(
                f"another worker already runs on {app.config['JOBS_URL']} (one per SQLite queue)")
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()


@click.group("outbox", help="Outbound messages (LINE pushes, SMS): status and manual drains.")
def outbox_group() -> None:
    pass


@outbox_group.command("status")
@with_appcontext
def outbox_status() -> None:
    """Messages per status, and channels whose messages are waiting for configuration."""
    with db.reading() as session:
        counts = status_counts(session)
    for status, count in counts.items():
        click.echo(f"{status:<8} {count}")
    waiting = unconfigured_channels()
    if waiting:
        click.echo(f"not configured: {', '.join(waiting)}")


@outbox_group.command("drain")
@with_appcontext
def outbox_drain() -> None:
    """Run one drain pass now with the configured senders, and print what happened."""
    report = jobs.run_drain(current_app._get_current_object())  # type: ignore[attr-defined]
    click.echo(" ".join(f"{key}={value}" for key, value in report.as_dict().items()))


@outbox_group.command("list")
@click.option("--status", "status", type=click.Choice([s.value for s in OutboxStatus]), default="dead",
              show_default=True)
@click.option("--limit", type=int, default=50, show_default=True)
@with_appcontext
def outbox_list(status: str, limit: int) -> None:
    """List messages in one status (default: dead letters that need a person), newest first."""
    with db.reading() as session:
        rows = list_messages(session, status=OutboxStatus(status), limit=limit)
    for row in rows:
        error = " ".join((row.last_error or "-").split())[:160]
        click.echo(f"{row.id} {row.channel:<5} {row.kind:<20} attempts={row.attempts} "
                   f"created={row.created_at.isoformat()} error={error}")


COMMANDS = [worker_command, outbox_group]
