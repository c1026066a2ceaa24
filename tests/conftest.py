"""Test fixtures: one migrated database per test (SQLite file copy, or a truncated PostgreSQL database),
a frozen Asia/Tokyo clock, and no network beyond loopback.

The suite runs on SQLite by default and on PostgreSQL when TEST_DATABASE_URL names a server
(``make test`` does both).
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from otodoke import create_app
from otodoke.all_models import metadata
from core.clock import JST, FixedClock
from core.db import db, make_engine
from core import migrate
from core.testdb import throwaway_database

PG_SERVER = os.environ.get("TEST_DATABASE_URL")

# A Tuesday morning before the central district's 10:00 cutoff.
DEFAULT_NOW = datetime(2026, 12, 1, 8, 0, tzinfo=JST)


def pytest_report_header() -> str:
    return f"otodoke test database: {'PostgreSQL' if PG_SERVER else 'SQLite'}"


@pytest.fixture(autouse=True)
def _no_outside_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never leave the machine: only loopback and Unix sockets may be connected to."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> None:  # type: ignore[override]
        if isinstance(address, tuple):
            host = str(address[0])
            if not (host.startswith("127.") or host in ("::1", "localhost")):
                raise RuntimeError(f"network access outside loopback is not allowed in tests: {host}")
        return real_connect(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database migrated once per run: an SQLite file to copy, or a PostgreSQL database to truncate."""
    if PG_SERVER:
        with throwaway_database(PG_SERVER) as url:
            engine = make_engine(url)
            migrate.upgrade(engine)
            engine.dispose()
            yield url
        return
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    yield str(path)


@pytest.fixture
def database_url(migrated_template: str, tmp_path: Path) -> Iterator[str]:
    if PG_SERVER:
        yield migrated_template
        _empty_postgres(migrated_template)
        return
    path = tmp_path / "otodoke.db"
    shutil.copy(migrated_template, path)
    yield f"sqlite:///{path}"


def _empty_postgres(url: str) -> None:
    """Delete every row and restart the id sequences. DELETE on these tiny tables takes ~10 ms where
    TRUNCATE takes ~0.5 s (it recreates files), which over the suite is minutes."""
    engine = make_engine(url)
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(text(f'DELETE FROM "{table.name}"'))
        serial = [t.name for t in metadata.sorted_tables
                  if "id" in t.c and t.c.id.primary_key and t.c.id.type.python_type is int]
        conn.execute(text("SELECT " + ", ".join(
            f"setval(pg_get_serial_sequence('\"{name}\"', 'id'), 1, false)" for name in serial)))
    engine.dispose()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(DEFAULT_NOW)


@pytest.fixture
def app(database_url: str, clock: FixedClock, tmp_path: Path) -> Iterator[Flask]:
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret-key",
            "JOBS_URL": f"sqlite:///{tmp_path / 'jobs.db'}",
            "LINE_CHANNEL_SECRET": "",
            "LINE_CHANNEL_ACCESS_TOKEN": "",
            "TWILIO_ACCOUNT_SID": "",
            "TWILIO_AUTH_TOKEN": "",
        },
        clock=clock,
    )
    with app.app_context():
        yield app
    db.bound(app).engine.dispose()


@pytest.fixture
def engine(app: Flask) -> Engine:
    return db.bound(app).engine


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    """A plain session on the test database. Tests commit what they set up, like a real caller would."""
    with db.bound(app).sessions() as s:
        yield s


@pytest.fixture
def client(app: Flask):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture
def runner(app: Flask):  # type: ignore[no-untyped-def]
    return app.test_cli_runner()
