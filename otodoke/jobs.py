"""Background jobs on Huey, used only as a trigger: the outbox rows are the truth.

Huey deletes a task when it dequeues it (at most once), so a killed consumer can lose the task it was
running. That is harmless here because every task is an idempotent tick (drain the outbox), and the next
tick (the minute sweep, the next commit) finds the rows that are still pending. See docs/design-notes.md, "Outbox".

The backend comes from ``JOBS_URL``: ``sqlite:///path`` (the default, a file of its own: Huey's dequeue
takes ``begin exclusive``, which must never contend with web writes on the app database; one consumer)
or ``redis://…`` (production; several worker threads).
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from flask import Flask, current_app
from huey import RedisHuey, SqliteHuey, crontab
from huey.api import Huey, TaskWrapper
from huey.consumer import Consumer
from sqlalchemy import event
from sqlalchemy.orm import Session

from core.clock import JST, get_clock
from core.db import db
from core.retention import prune_processed_events
from delivery.runner import PLAN_JOB_KEY, plan_due_cutoffs
from delivery.runner import run_plan_request as run_plan   # the task below takes the name run_plan_request
from outbox.models import OutboxMessage
from outbox.registry import senders_for
from outbox.service import WRITTEN_FLAG
from outbox.worker import DrainReport, drain, next_due
from residents import privacy
from voice.eta import queue_eta_calls

log = logging.getLogger("otodoke.jobs")

JOBS_KEY = "otodoke.jobs"
# Retries due within this many seconds get their own wake-up; later ones are left to the minute sweep.
WAKE_HORIZON_S = 60.0
WAKE_MARKER = "otodoke:outbox:next-wake"
COALESCE_S = 0.2


@dataclass
class Jobs:
    huey: Huey
    drain_outbox: TaskWrapper
    sweep_outbox: TaskWrapper
    plan_at_cutoff: TaskWrapper
    prune_events: TaskWrapper | None = None
    run_plan_request: TaskWrapper | None = None
    # Wake-up coalescing (per process): see ``wake``.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _last_wake: float = float("-inf")
    _delayed_until: float = float("-inf")

    def wake(self) -> None:
        """Queue a drain soon after this moment, writing to the job queue at most ~5 times a second.

        Under a burst of orders every commit would otherwise add a task (a write to the queue's own
        SQLite file or a Redis round trip). Instead: the first commit in a window queues a drain now; the
        others make sure one delayed drain is booked after them, so every committed row still has a
        drain that starts after its commit.
        """
        if self.huey.immediate:
            self.drain_outbox()
            return
        with self._lock:
            now = time.monotonic()
            if now - self._last_wake >= COALESCE_S:
                self._last_wake = now
                delay = None
            elif self._delayed_until > now:
                return
            else:
                self._delayed_until = now + COALESCE_S
                delay = COALESCE_S
        if delay is None:
            self.drain_outbox()
        else:
            self.drain_outbox.schedule(delay=delay)


def make_huey(jobs_url: str, *, database_url: str = "", name: str = "otodoke",
              immediate: bool = False) -> Huey:
    """A Huey instance for ``jobs_url``; refuses an SQLite queue inside the app's own database file."""
    if jobs_url.startswith("sqlite:///"):
        path = jobs_url[len("sqlite:///"):]
        if not path or path == ":memory:":
            raise ValueError("JOBS_URL needs a file: sqlite:///path/to/jobs.db")
        if database_url.startswith("sqlite") and _same_file(path, database_url.split(":///", 1)[-1]):
            raise ValueError("JOBS_URL must not be the app database: give the job queue its own file")
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        return SqliteHuey(name, filename=path, results=False, immediate=immediate,
                          immediate_use_memory=True)
    if jobs_url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey(name, url=jobs_url, results=False, immediate=immediate)
    raise ValueError(f"JOBS_URL must be sqlite:///path or redis://host:port/db, not {jobs_url!r}")


def _same_file(a: str, b: str) -> bool:
    return os.path.abspath(a) == os.path.abspath(b)


def init_app(app: Flask) -> Jobs:
    """Build the queue and its tasks, and wake the outbox drain after commits that queued messages."""
    huey = make_huey(app.config["JOBS_URL"], database_url=app.config["DATABASE_URL"],
                     name=app.config.get("JOBS_NAME", "otodoke"),
                     immediate=bool(app.config.get("JOBS_IMMEDIATE", False)))

    @huey.task(name="drain_outbox")
    def drain_outbox() -> None:
        _tick(app)

    @huey.periodic_task(crontab(minute="*"), name="sweep_outbox")
    def sweep_outbox() -> None:
        # The safety net: catches retries past the wake horizon, lost triggers and expired leases.
        _tick(app)

    @huey.periodic_task(crontab(minute="*"), name="plan_at_cutoff")
    @once_per_slot(huey, "plan_at_cutoff")
    def plan_at_cutoff() -> None:
        # Each district's cutoff freezes its orders and plans the day; a trigger is handled once
        # (unique per date and cutoff), so a restart or a second worker cannot plan twice.
        with app.app_context():
            for outcome in plan_due_cutoffs(app):
                log.info("cutoff planning: %s", outcome.message)
            _queue_eta_calls(app)

    @huey.task(name="run_plan_request")
    def run_plan_request(request_id: int) -> None:
        # 「今すぐ計画」: the request row is the truth; a lost task leaves it queued, and the next click
        # on 今すぐ計画 finds it and queues the task again (the claim makes a duplicate task a no-op).
        with app.app_context():
            run_plan(app, request_id)

    @huey.periodic_task(crontab(minute="23"), name="prune_events")
    @once_per_slot(huey, "prune_events")
    def prune_events() -> None:
        # Retention (core/retention.py): webhook event ids older than a week, once an hour.
        run_retention(app)

    @huey.periodic_task(crontab(minute="41", hour="18"), name="privacy_retention")
    @once_per_slot(huey, "privacy_retention")
    def privacy_retention() -> None:
        # Personal-data retention (residents/privacy.py), daily at 03:41 JST (Huey's crontab is UTC).
        run_privacy_retention(app)

    jobs = Jobs(huey, drain_outbox, sweep_outbox, plan_at_cutoff, prune_events, run_plan_request)
    app.extensions[JOBS_KEY] = jobs
    app.extensions[PLAN_JOB_KEY] = run_plan_request   # calling the task wrapper enqueues it
    sessions = db.bound(app).sessions
    event.listen(sessions, "after_flush", _note_outbox_insert)
    event.listen(sessions, "after_commit", _carry_flag_to_thread)
    event.listen(sessions, "after_rollback", _drop_flag)
    db.on_commit(lambda: _wake_after_commit(app), app)
    return jobs


# --- scheduled work runs once, however many consumers -------------------------------------------------
# Every Huey consumer started with periodic=True enqueues each periodic task itself, so N worker
# processes on one Redis queue would run plan_at_cutoff N times a minute. The sweep is an idempotent
# drain and may run in each; the others claim their minute in the queue's own storage (Redis SET NX
# with a TTL) and the losers return. An SQLite queue has one consumer (otodoke/worker.py), no claim.
SLOT_CLAIM_PREFIX = "otodoke:periodic:"
SLOT_CLAIM_TTL_S = 3600


def slot_key(queue: str, name: str, now: float | None = None) -> str:
    """The claim key of ``name`` on ``queue`` for the wall-clock minute of ``now`` (the crontab's unit)."""
    return f"{SLOT_CLAIM_PREFIX}{queue}:{name}:{int((time.time() if now is None else now) // 60)}"


def claim_slot(huey: Huey, name: str, now: float | None = None) -> bool:
    """True for exactly one caller per task name and minute on a shared (Redis) queue."""
    if isinstance(huey, SqliteHuey) or huey.immediate:
        return True
    # The Redis connection itself: Huey's own put_if_empty keeps results in a hash, whose per-field
    # TTL needs Redis 7.4+.
    conn = huey.storage.conn
    return bool(conn.set(slot_key(huey.name, name, now), os.getpid(), nx=True, ex=SLOT_CLAIM_TTL_S))


def once_per_slot(huey: Huey, name: str) -> Callable[[Callable[[], None]], Callable[[], None]]:
    def decorate(fn: Callable[[], None]) -> Callable[[], None]:
        @functools.wraps(fn)
        def run_once() -> None:
            if not claim_slot(huey, name):
                log.debug("%s: another worker runs this minute's turn", name)
                return
            fn()
        return run_once
    return decorate


def get_jobs(app: Flask | None = None) -> Jobs:
    return (app or current_app).extensions[JOBS_KEY]


def get_huey(app: Flask | None = None) -> Huey:
    return get_jobs(app).huey


# --- the after-commit trigger ------------------------------------------------------------------------
# A flush that inserted OutboxMessage rows marks its session; the commit moves the mark to this thread;
# the after-commit hook (db.transaction) consumes it and queues one drain. Commits without outbox rows
# cost one dict lookup.

_FLAG = WRITTEN_FLAG   # also set by outbox.service.enqueue_all, whose Core INSERT no flush sees
_thread = threading.local()


def _note_outbox_insert(session: Session, _flush_context: Any) -> None:
    if any(isinstance(obj, OutboxMessage) for obj in session.new):
        session.info[_FLAG] = True


def _carry_flag_to_thread(session: Session) -> None:
    if session.info.pop(_FLAG, False):
        _thread.outbox_written = True


def _drop_flag(session: Session) -> None:
    session.info.pop(_FLAG, None)


def _wake_after_commit(app: Flask) -> None:
    if not getattr(_thread, "outbox_written", False):
        return
    _thread.outbox_written = False
    if not senders_for(app):
        return  # nothing could be sent; the sweep marks the rows "channel not configured"
    try:
        get_jobs(app).wake()
    except Exception as exc:  # the commit stands; the minute sweep will send the rows
        log.warning("could not queue the outbox drain (%s); the sweep will pick it up", exc)


# --- the tasks' body -----------------------------------------------------------------------------------

def run_drain(app: Flask) -> DrainReport:
    """One drain with the app's senders, clock and settings (also ``otodoke outbox drain``)."""
    clock = get_clock(app)
    return drain(lambda: db.transaction(app), senders_for(app), clock.now,
                 batch=int(app.config.get("OUTBOX_BATCH", 20)),
                 lease_s=float(app.config.get("OUTBOX_LEASE_S", 120)),
                 max_attempts=int(app.config.get("OUTBOX_MAX_ATTEMPTS", 12)))


def _tick(app: Flask) -> None:
    with app.app_context():
        run_drain(app)
        _book_wake_up(app)


def _book_wake_up(app: Flask) -> None:
    """Schedule the next drain for the earliest retry if it is soon, unless one is already booked."""
    with db.reading(app) as session:
        due = next_due(session, sorted(senders_for(app)))
    if due is None:
        return
    delay = (due - get_clock(app).now()).total_seconds()
    if delay > WAKE_HORIZON_S:
        return
    delay = max(delay, 1.0)
    jobs = get_jobs(app)
    wake_at = time.time() + delay
    booked = jobs.huey.get(WAKE_MARKER, peek=True)
    if booked is not None and time.time() < booked <= wake_at + 0.5:
        return  # an earlier wake-up will drain and book the next one itself
    jobs.huey.put(WAKE_MARKER, wake_at)
    jobs.drain_outbox.schedule(delay=delay)


# Outbound ETA calls go out on the delivery day between these hours (JST): never early in the morning
# or in the evening, and once per stop (the outbox dedupe key), however often the tick runs.
ETA_CALL_HOURS = (8, 19)


def _queue_eta_calls(app: Flask) -> int:
    now = get_clock(app).now()
    local = now.astimezone(JST)
    if not ETA_CALL_HOURS[0] <= local.hour < ETA_CALL_HOURS[1]:
        return 0
    with db.transaction(app) as session:
        return queue_eta_calls(session, delivery_date=local.date(), now=now, config=app.config)


def run_retention(app: Flask) -> int:
    with db.transaction(app) as session:
        pruned = prune_processed_events(session, now=get_clock(app).now())
    if pruned:
        log.info("retention: %d processed event ids older than a week deleted", pruned)
    return pruned


def run_privacy_retention(app: Flask):  # type: ignore[no-untyped-def]
    """The APPI retention sweep with the app's policy (also ``otodoke resident retention``)."""
    with db.transaction(app) as session:
        report = privacy.retention_sweep(session, parts=privacy.parts_of(app),
                                         policy=privacy.RetentionPolicy.from_config(app.config),
                                         now=get_clock(app).now())
    log.info("privacy retention: %s", report)
    return report


# --- the consumer --------------------------------------------------------------------------------------

def is_sqlite_queue(app: Flask | None = None) -> bool:
    return isinstance(get_huey(app), SqliteHuey)


def make_consumer(app: Flask, *, workers: int | None = None, periodic: bool = True) -> Consumer:
    """A Huey consumer running our tasks in threads of this process (one thread on SQLite)."""
    huey = get_huey(app)
    if huey.immediate:
        raise RuntimeError("JOBS_IMMEDIATE is on: tasks run inline, there is nothing to consume")
    if is_sqlite_queue(app):
        if workers not in (None, 1):
            log.warning("SQLite job queue: using 1 worker thread, not %s", workers)
        workers = 1
    return huey.create_consumer(workers=workers or 1, periodic=periodic, worker_type="thread",
                                initial_delay=0.1, backoff=1.15,
                                max_delay=float(app.config.get("JOBS_POLL_MAX_S", 1.0)))
