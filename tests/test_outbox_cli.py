"""``otodoke worker`` and the ``otodoke outbox`` staff commands."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from core.clock import FixedClock
from core.db import db
from outbox.models import OutboxMessage, OutboxStatus
from outbox.registry import register_sender
from outbox.senders import Outcome, RecordingSender, SendResult
from outbox.service import enqueue
from tests.test_outbox_jobs import queue_without_trigger, status_of

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def signals_restored() -> Iterator[None]:
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def queue(app: Flask, clock: FixedClock, channel: str = "line") -> str:
    with db.transaction(app) as session:
        message = enqueue(session, channel=channel, recipient="Ucli", kind="order_confirmed",
                          payload={"messages": []} if channel == "line" else {"body": "x"},
                          now=clock.now())
        session.flush()
        return message.id


def test_status_counts_every_status(app: Flask, clock: FixedClock, runner) -> None:  # type: ignore[no-untyped-def]
    queue(app, clock)
    queue(app, clock, "sms")
    result = runner.invoke(args=["outbox", "status"])
    assert result.exit_code == 0, result.output
    lines = dict(line.split(maxsplit=1) for line in result.output.splitlines() if line.strip())
    assert lines["pending"] == "2" and lines["sent"] == "0" and lines["dead"] == "0"
    assert lines["not"] == "configured: line, sms, voice, recording"


def test_drain_sends_and_list_shows_dead_letters(app: Flask, clock: FixedClock, runner) -> None:  # type: ignore[no-untyped-def]
    ok, bad = queue(app, clock), queue(app, clock)
    line = RecordingSender("line")
    register_sender(app, line)

    def classify(message: OutboxMessage) -> SendResult:
        RecordingSender.send(line, message)
        return SendResult(Outcome.DEAD, detail="403: blocked") if message.id == bad else SendResult(
            Outcome.SENT)

    line.send = classify  # type: ignore[method-assign]
    result = runner.invoke(args=["outbox", "drain"])
    assert result.exit_code == 0, result.output
    assert "sent=1" in result.output and "dead=1" in result.output
    assert status_of(app, ok) is OutboxStatus.SENT
    listed = runner.invoke(args=["outbox", "list"])
    assert bad in listed.output and ok not in listed.output and "403: blocked" in listed.output


def test_worker_command_sweeps_at_start_and_stops(app: Flask, clock: FixedClock, runner) -> None:  # type: ignore[no-untyped-def]
    line = RecordingSender("line")
    register_sender(app, line)
    message_id = queue_without_trigger(app, clock)      # no trigger: only the sweep can find it
    result = runner.invoke(args=["worker", "--run-for", "1.5"])
    assert result.exit_code == 0, result.output
    assert "senders: line" in result.output and "not configured" in result.output
    assert [s.id for s in line.sent] == [message_id]
    assert status_of(app, message_id) is OutboxStatus.SENT


def test_worker_command_without_sweep_leaves_untriggered_rows(app: Flask, clock: FixedClock,
                                                             runner) -> None:  # type: ignore[no-untyped-def]
    """The control for the test above: without the sweep and without a trigger nothing is sent."""
    line = RecordingSender("line")
    register_sender(app, line)
    message_id = queue_without_trigger(app, clock)
    result = runner.invoke(args=["worker", "--run-for", "1", "--no-periodic"])
    assert result.exit_code == 0, result.output
    assert line.sent == [] and status_of(app, message_id) is OutboxStatus.PENDING


def test_second_worker_on_the_same_sqlite_queue_is_refused(app: Flask, runner) -> None:  # type: ignore[no-untyped-def]
    from otodoke.worker import _single_consumer
    with _single_consumer(app):
        result = runner.invoke(args=["worker", "--run-for", "0.2"])
    assert result.exit_code != 0
    assert "another worker already runs" in result.output


def test_python_m_otodoke_cli_worker_starts(database_url: str, tmp_path: Path) -> None:
    """What ``otodoke run`` spawns: ``python -m otodoke.cli worker``."""
    env = dict(os.environ, DATABASE_URL=database_url, JOBS_URL=f"sqlite:///{tmp_path / 'jobs.db'}")
    done = subprocess.run([sys.executable, "-m", "otodoke.cli", "worker", "--run-for", "0.5"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "otodoke worker: queue sqlite:///" in done.stdout and "stopped" in done.stdout
