"""Database plumbing: the declarative base, engines configured for safe concurrent writes, and the
transaction helpers that requests, CLI commands and jobs use. Services never open sessions or commit.

SQLite (the embedded default) runs in WAL mode with a busy timeout, and every write transaction starts
with ``BEGIN IMMEDIATE``: with pysqlite's default deferred BEGIN, a read-then-write transaction fails
with "database is locked" instead of waiting (docs/design-notes.md, "SQLite"). Read-only work uses a
deferred BEGIN so that pages never queue behind writers.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from flask import Flask, current_app
from sqlalchemy import JSON, DateTime, Engine, MetaData, create_engine, event, make_url
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as naive UTC and gives them back aware (UTC).

    SQLite has no time zone type; without this, values would come back naive and comparisons with the
    Asia/Tokyo clock would fail or, worse, be off by nine hours.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine with the locking behaviour our stock rules depend on."""
    if not is_sqlite(url):
        kwargs.setdefault("pool_pre_ping", True)
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 40)
        # psycopg prepares a statement after 5 executions on a connection, and forgets all of them on
        # any ROLLBACK, also ROLLBACK TO SAVEPOINT (a refused order) and the rollback that ends a read
        # session. So hot statements were parsed and planned afresh most of the time (server log in
        # docs/benchmarks.md, Orders); 0 prepares each statement at its first execution.
        kwargs["connect_args"] = {"prepare_threshold": 0, **kwargs.get("connect_args", {})}
        return create_engine(url, **kwargs)

    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)

    @event.listens_for(engine, "connect")
    def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below emit BEGIN itself instead of pysqlite's deferred one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    # In-process writers queue on a lock before BEGIN IMMEDIATE instead of in SQLite's busy handler,
    # whose sleeps grow to 100 ms and let newcomers overtake: with 16 threads that gave a p99 of
    # seconds (docs/benchmarks.md, Orders). Writers in other processes (gunicorn workers, the job
    # worker) meet on a file lock beside the database for the same reason.
    write_lock = threading.Lock()
    file_lock = ProcessWriteLock(_database_path(url))

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection: Connection) -> None:
        if connection.get_execution_options().get("otodoke_readonly"):
            connection.exec_driver_sql("BEGIN")
            return
        # A leaked holder (should never happen) costs a wait, not a hang: then fall back to SQLite.
        if write_lock.acquire(timeout=WRITE_LOCK_WAIT_S):
            connection.info[_HOLDS_WRITE_LOCK] = True
            connection.info[_HOLDS_FILE_LOCK] = file_lock.acquire(WRITE_LOCK_WAIT_S)
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _release(connection.info)
            raise

    def _release(info: dict[Any, Any]) -> None:
        if info.pop(_HOLDS_FILE_LOCK, False):
            file_lock.release()
        if info.pop(_HOLDS_WRITE_LOCK, False):
            write_lock.release()

    event.listen(engine, "commit", lambda connection: _release(connection.info))
    event.listen(engine, "rollback", lambda connection: _release(connection.info))
    # Safety net: a connection going back to the pool never keeps the lock.
    event.listen(engine.pool, "checkin", lambda _dbapi, record: _release(record.info))
    return engine


WRITE_LOCK_WAIT_S = 30
_HOLDS_WRITE_LOCK = "otodoke_holds_write_lock"
_HOLDS_FILE_LOCK = "otodoke_holds_file_lock"


def _database_path(url: str) -> str | None:
    """The file of a file-backed SQLite URL; None for an in-memory database (one process only)."""
    path = make_url(url).database
    return None if not path or path == ":memory:" or path.startswith("file:") else path


class ProcessWriteLock:
    """An exclusive ``flock`` on ``<database>-writer.lock``, taken by a process's one writer at a time
    (the in-process lock comes first), so writers of different processes take turns as soon as the
    holder commits instead of sleeping in SQLite's busy handler. The kernel drops it if the holder dies.
    Waiting is bounded: after ``timeout`` the writer goes on to SQLite's own locking."""

    POLL_S = 0.0005

    def __init__(self, database: str | None) -> None:
        self._path = None if database is None else f"{database}-writer.lock"
        self._fd: int | None = None
        self._pid = 0

    def _descriptor(self) -> int | None:
        if self._path is None:
            return None
        if self._fd is None or self._pid != os.getpid():   # a forked worker needs its own open file
            self._fd, self._pid = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600), os.getpid()
        return self._fd

    def acquire(self, timeout: float) -> bool:
        fd = self._descriptor()
        if fd is None:
            return False
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return False
                time.sleep(self.POLL_S)

    def release(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            fcntl.flock(self._fd, fcntl.LOCK_UN)


AfterCommit = Callable[[], None]


class Database:
    """The unbound database extension (``db.init_app(app)`` in the factory), flaskr-style."""

    def init_app(self, app: Flask) -> None:
        engine = make_engine(app.config["DATABASE_URL"])
        app.extensions["core.db"] = _Bound(engine)

    def bound(self, app: Flask | None = None) -> "_Bound":
        return (app or current_app).extensions["core.db"]

    @property
    def engine(self) -> Engine:
        return self.bound().engine

    def on_commit(self, hook: AfterCommit, app: Flask | None = None) -> None:
        """Register a hook run after every committed write transaction (e.g. wake the outbox worker)."""
        self.bound(app).after_commit.append(hook)

    @contextmanager
    def transaction(self, app: Flask | None = None) -> Iterator[Session]:
        """One write transaction: commit on success, roll back on error, then run after-commit hooks."""
        bound = self.bound(app)
        with bound.sessions.begin() as session:
            yield session
        for hook in bound.after_commit:
            hook()

    @contextmanager
    def reading(self, app: Flask | None = None) -> Iterator[Session]:
        """A read-only unit of work (deferred BEGIN on SQLite); it is rolled back, never committed."""
        bound = self.bound(app)
        with bound.read_sessions() as session:
            yield session


class _Bound:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        self.read_sessions = sessionmaker(engine.execution_options(otodoke_readonly=True),
                                          expire_on_commit=False)
        self.after_commit: list[AfterCommit] = []


db = Database()
