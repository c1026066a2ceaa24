"""Throwaway PostgreSQL databases for the test suite and benchmarks.

``python -m core.testdb check URL`` exits 0 when the server answers; ``describe URL`` prints it
without a password.
"""

from __future__ import annotations

import sys
import uuid
from contextlib import contextmanager
from collections.abc import Iterator

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from core.config import normalise_database_url


def reachable(server_url: str) -> bool:
    engine = create_engine(normalise_database_url(server_url), connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
    finally:
        engine.dispose()


@contextmanager
def throwaway_database(server_url: str, prefix: str = "otodoke_test") -> Iterator[str]:
    """Create an empty database on the server of ``server_url``, yield its URL, drop it afterwards."""
    url = make_url(normalise_database_url(server_url))
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("check", "describe"):
        print("usage: python -m core.testdb check|describe URL", file=sys.stderr)
        return 2
    if argv[0] == "describe":
        print(make_url(normalise_database_url(argv[1])).render_as_string(hide_password=True))
        return 0
    return 0 if reachable(argv[1]) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
