"""Huey wiring (otodoke/jobs.py): the after-commit trigger, the wake-up booking, and real consumers on an
SQLite queue and on Redis sending a committed row."""

from __future__ import annotations

import signal
import socket
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import insert

from otodoke import create_app, jobs
from core.clock import FixedClock
from core.db import db
from outbox.models import OutboxMessage, OutboxStatus
from outbox.registry import register_sender, senders_for, unconfigured_channels
from outbox.senders import Outcome, RecordingSender, SendResult
from outbox.service import NewMessage, enqueue, enqueue_all

REDIS = ("127.0.0.1", 6379)


def queue_in_transaction(app: Flask, clock: FixedClock, recipient: str = "Ujobs") -> str:
    with db.transaction(app) as session:
        message = enqueue(session, channel="line", recipient=recipient, kind="order_confirmed",
                          payload={"messages": [{"type": "text", "text": "ご注文を承りました"}]},
                          now=clock.now())
        session.flush()
        return message.id


def queue_without_trigger(app: Flask, clock: FixedClock) -> str:
    """A row written by plain Core SQL: no ORM flush, so no after-commit wake-up."""
    message_id = str(uuid.uuid4())
    with db.bound(app).engine.begin() as conn:
        conn.execute(insert(OutboxMessage).values(
            id=message_id, channel="line", recipient="Ucore", kind="order_confirmed",
            payload={"messages": []}, status=OutboxStatus.PENDING, attempts=0,
            next_attempt_at=clock.now(), created_at=clock.now()))
    return message_id


def status_of(app: Flask, message_id: str) -> OutboxStatus:
    with db.reading(app) as session:
        row = session.get(OutboxMessage, message_id)
        assert row is not None
        return row.status


def wait_until_sent(app: Flask, message_id: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if status_of(app, message_id) is OutboxStatus.SENT:
            return
        time.sleep(0.05)
    raise AssertionError(f"outbox row not sent within {timeout} s")


@pytest.fixture
def signals_restored() -> Iterator[None]:
    """The Huey consumer installs SIGINT/SIGTERM/SIGHUP handlers; give pytest its own back."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def test_registry_starts_empty_and_reports_unconfigured_channels(app: Flask) -> None:
    assert senders_for(app) == {}
    assert unconfigured_channels(app) == ["line", "sms", "voice", "recording"]
    register_sender(app, RecordingSender("sms"))
    assert unconfigured_channels(app) == ["line", "voice", "recording"]
    with pytest.raises(ValueError):
        register_sender(app, RecordingSender("fax"))


def test_commit_with_outbox_rows_drains_immediately(app: Flask, clock: FixedClock) -> None:
    jobs.get_huey(app).immediate = True
    line = RecordingSender("line")
    register_sender(app, line)
    message_id = queue_in_transaction(app, clock)
    assert [s.id for s in line.sent] == [message_id]
    assert status_of(app, message_id) is OutboxStatus.SENT


def test_commit_without_outbox_rows_does_not_drain(app: Flask, clock: FixedClock) -> None:
    jobs.get_huey(app).immediate = True
    line = RecordingSender("line")
    register_sender(app, line)
    message_id = queue_without_trigger(app, clock)
    with db.transaction(app):
        pass
    assert line.sent == []
    assert status_of(app, message_id) is OutboxStatus.PENDING
    # The minute sweep is what picks up such a row.
    jobs.get_jobs(app).sweep_outbox()
    assert [s.id for s in line.sent] == [message_id]


def test_rolled_back_transaction_triggers_nothing(app: Flask, clock: FixedClock) -> None:
    jobs.get_huey(app).immediate = True
    line = RecordingSender("line")
    register_sender(app, line)
    with pytest.raises(RuntimeError):
        with db.transaction(app) as session:
            enqueue(session, channel="line", recipient="Urollback", kind="x", payload={},
                    now=clock.now())
            session.flush()
            raise RuntimeError("boom")
    with db.transaction(app):
        pass
    assert line.sent == []


def test_a_retry_books_one_wake_up(app: Flask, clock: FixedClock) -> None:
    huey = jobs.get_huey(app)
    huey.immediate = True
    line = RecordingSender("line", script=[SendResult(Outcome.RETRY, detail="500")])
    register_sender(app, line)
    queue_in_transaction(app, clock, "Ua")
    assert len(huey.scheduled()) == 1          # drain_outbox again in a few seconds
    for _ in range(3):                         # sweeps and other triggers meanwhile
        jobs.get_jobs(app).sweep_outbox()
    assert len(huey.scheduled()) == 1          # already booked: no pile-up of wake-ups
    assert len(line.sent) == 1


def test_a_retry_far_away_is_left_to_the_sweep(app: Flask, clock: FixedClock) -> None:
    huey = jobs.get_huey(app)
    huey.immediate = True
    register_sender(app, RecordingSender("line", script=[SendResult(Outcome.RETRY, retry_after_s=600)]))
    queue_in_transaction(app, clock)
    assert huey.scheduled() == []


def test_queue_must_not_share_the_app_database(tmp_path: Path) -> None:
    app_db = tmp_path / "app.db"
    with pytest.raises(ValueError, match="own file"):
        jobs.make_huey(f"sqlite:///{app_db}", database_url=f"sqlite:///{app_db}")
    with pytest.raises(ValueError):
        jobs.make_huey("amqp://127.0.0.1/")
    with pytest.raises(ValueError):
        jobs.make_huey("sqlite:///:memory:")


def test_sqlite_consumer_in_a_thread_sends_a_committed_row(app: Flask, clock: FixedClock,
                                                           signals_restored: None) -> None:
    line = RecordingSender("line")
    register_sender(app, line)
    consumer = jobs.make_consumer(app, periodic=False)   # only the after-commit trigger can drain
    assert len(consumer.worker_threads) == 1
    consumer.start()
    try:
        message_id = queue_in_transaction(app, clock)
        wait_until_sent(app, message_id)
    finally:
        consumer.stop(graceful=True)
    assert [s.id for s in line.sent] == [message_id]


def test_sqlite_consumer_uses_one_thread_whatever_is_asked(app: Flask, signals_restored: None) -> None:
    assert len(jobs.make_consumer(app, workers=4).worker_threads) == 1


def redis_up() -> bool:
    try:
        with socket.create_connection(REDIS, timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture
def redis_app(database_url: str, clock: FixedClock) -> Iterator[Flask]:
    if not redis_up():
        pytest.skip("Redis is not running on 127.0.0.1:6379; the RedisHuey wiring test needs it")
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test",
                      "JOBS_URL": "redis://127.0.0.1:6379/15",
                      "JOBS_NAME": f"otodoke-test-{uuid.uuid4().hex[:8]}"}, clock=clock)
    with app.app_context():
        yield app
    jobs.get_huey(app).flush()
    jobs.get_huey(app).storage.pool.disconnect()
    db.bound(app).engine.dispose()


def test_redis_consumer_sends_a_committed_row(redis_app: Flask, clock: FixedClock,
                                              signals_restored: None) -> None:
    line = RecordingSender("line")
    register_sender(redis_app, line)
    consumer = jobs.make_consumer(redis_app, workers=2, periodic=False)
    assert len(consumer.worker_threads) == 2
    consumer.start()
    try:
        message_id = queue_in_transaction(redis_app, clock)
        wait_until_sent(redis_app, message_id)
    finally:
        consumer.stop(graceful=True)
    assert [s.id for s in line.sent] == [message_id]


def test_enqueue_failure_does_not_undo_the_commit(database_url: str, clock: FixedClock,
                                                  tmp_path: Path, caplog: Any) -> None:
    """A queue that is down loses only the trigger: the row is committed and the sweep sends it."""
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test",
                      "JOBS_URL": "redis://127.0.0.1:1/0"}, clock=clock)   # nothing listens there
    try:
        register_sender(app, RecordingSender("line"))
        message_id = queue_in_transaction(app, clock)
        assert status_of(app, message_id) is OutboxStatus.PENDING
        assert "could not queue the outbox drain" in caplog.text
    finally:
        jobs.get_huey(app).storage.pool.disconnect()
        db.bound(app).engine.dispose()


def test_wake_up_delay_follows_the_app_clock(app: Flask, clock: FixedClock) -> None:
    huey = jobs.get_huey(app)
    huey.immediate = True
    register_sender(app, RecordingSender("line", script=[SendResult(Outcome.RETRY, retry_after_s=30)]))
    queue_in_transaction(app, clock)
    (task,) = huey.scheduled()
    eta_in = (task.eta - huey._get_timestamp()).total_seconds()
    assert 25 < eta_in <= 31


def test_a_burst_of_commits_queues_few_drains(app: Flask, clock: FixedClock, monkeypatch: Any) -> None:
    # The window is widened so that the whole burst falls in one window however busy the machine is
    # (at 0.2 s a loaded CI machine spread thirty commits over several windows: 7 drains, not a fault).
    monkeypatch.setattr(jobs, "COALESCE_S", 60.0)
    register_sender(app, RecordingSender("line"))
    huey = jobs.get_huey(app)
    for i in range(30):
        queue_in_transaction(app, clock, f"U{i}")
    queued = huey.pending_count() + huey.scheduled_count()
    assert queued == 2, queued   # one drain now and one delayed after the last commit; not thirty


def test_every_row_of_a_burst_is_sent_by_a_running_consumer(app: Flask, clock: FixedClock,
                                                            signals_restored: None) -> None:
    line = RecordingSender("line")
    register_sender(app, line)
    consumer = jobs.make_consumer(app, periodic=False)   # coalesced triggers alone must suffice
    consumer.start()
    try:
        ids = [queue_in_transaction(app, clock, f"U{i}") for i in range(20)]
        for message_id in ids:
            wait_until_sent(app, message_id)
    finally:
        consumer.stop(graceful=True)
    assert sorted(s.id for s in line.sent) == sorted(ids)


def test_enqueue_all_rows_drain_immediately_too(app: Flask, clock: FixedClock) -> None:
    # enqueue_all writes with a Core INSERT that no ORM flush sees: it must raise the flag itself.
    jobs.get_huey(app).immediate = True
    line = RecordingSender("line")
    register_sender(app, line)
    with db.transaction(app) as session:
        enqueue_all(session, [NewMessage("line", "Ubatch", "order_confirmed", {"messages": []}, "k:1")],
                    now=clock.now())
    assert [s.recipient for s in line.sent] == ["Ubatch"]
