from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from otodoke import create_app
from otodoke.all_models import metadata
from core.config import normalise_database_url


def test_home_page_says_what_is_running_in_japanese(client) -> None:
    page = client.get("/").get_data(as_text=True)
    assert "お届け" in page
    assert "未設定" in page  # LINE and Twilio are unconfigured in tests, and the page says so


def test_health_reports_database(client, engine) -> None:
    body = client.get("/health").get_json()
    assert body == {"status": "ok", "database": engine.dialect.name}


@pytest.mark.parametrize("given, expected", [
    ("postgres://u:p@h:5432/d", "postgresql+psycopg://u:p@h:5432/d"),
    ("postgresql://u@h/d", "postgresql+psycopg://u@h/d"),
    ("sqlite:///x.db", "sqlite:///x.db"),
])
def test_database_url_normalised(given: str, expected: str) -> None:
    assert normalise_database_url(given) == expected


def test_production_refuses_default_secret(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("OTODOKE_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})


def test_migrations_create_every_model_table(engine) -> None:
    tables = set(inspect(engine).get_table_names())
    assert {t.name for t in metadata.sorted_tables} <= tables


def test_migrations_match_models(engine) -> None:
    """A model change without a migration fails here (Alembic autogenerate finds no difference)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diff == []


def test_sqlite_write_transactions_take_the_write_lock_at_begin(engine, app) -> None:
    """BEGIN IMMEDIATE: a write transaction holds the lock from its start, so a read-then-write never
    fails with "database is locked"; read-only units of work use a deferred BEGIN (negative control)."""
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite engine configuration")
    import sqlite3

    from core.db import db

    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000

    other = sqlite3.connect(engine.url.database, timeout=0, isolation_level=None)
    try:
        with db.transaction(app) as session:
            session.execute(text("SELECT 1"))
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        with db.reading(app) as session:
            session.execute(text("SELECT 1"))
            other.execute("BEGIN IMMEDIATE")  # a reader does not block writers
            other.execute("ROLLBACK")
    finally:
        other.close()


def test_home_page_links_only_this_apps_pages(tmp_path, database_url, clock) -> None:
    """Surfaces belong to the app: a sandbox page listed by one app never shows on another's home."""
    with_sandbox = create_app({"DATABASE_URL": database_url, "JOBS_URL": f"sqlite:///{tmp_path / 'a.db'}",
                               "LINE_SANDBOX": "1", "TWILIO_SANDBOX": "1"}, clock=clock)
    without = create_app({"DATABASE_URL": database_url, "JOBS_URL": f"sqlite:///{tmp_path / 'b.db'}",
                          "LINE_SANDBOX": "0", "TWILIO_SANDBOX": "0"}, clock=clock)
    assert "/sandbox/line" in with_sandbox.test_client().get("/").get_data(as_text=True)
    page = without.test_client().get("/").get_data(as_text=True)
    assert "/sandbox/line" not in page and "/sandbox/phone" not in page and "/staff/" in page


def test_the_home_page_never_shows_the_job_queues_password(database_url, clock) -> None:
    app = create_app({"DATABASE_URL": database_url, "JOBS_URL": "redis://:s3cret-pass@127.0.0.1:6379/0"}, clock=clock)
    page = app.test_client().get("/").get_data(as_text=True)
    assert "s3cret-pass" not in page
    assert "redis://:***@127.0.0.1:6379/0" in page
