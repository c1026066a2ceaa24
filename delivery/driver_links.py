"""Signed links to a driver's run page: no login on a phone in the snow, yet only the driver who was
sent the link can open it, and only until the day after the run (personal data is time-boxed).

The link's age is judged by the app's clock (``core/clock.py``), not by ``time.time()`` as
itsdangerous does on its own: the signer below stamps and checks with the clock's "now", so a frozen or
moved clock (demos, tests) ages links the way it ages everything else.

A link opens only the run it was made for: it is signed with the run's random ``link_key`` in the salt.
SQLite gives a deleted run's id to the next run (``runs`` has no AUTOINCREMENT), and that run's key is
another, so the old link's signature does not check against it. The key is in the salt, not in the
token, so a link is no longer than before: a driver without LINE gets it in a two-part SMS.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any, Callable, NamedTuple

from flask import abort, current_app
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select

from core.clock import get_clock   # the app's clock, when called inside the app without one
from core.db import db
from delivery.models import Run
from delivery.runs import removed_run_keys

SALT = "otodoke.driver-run"
MAX_AGE_S = 36 * 3600
REVOKED = "このリンクは取り消されました。担当者に連絡して、新しいリンクを受け取ってください。"
INVALID = "このリンクは無効か、期限が切れています。担当者に連絡してください。"


def _now(now: datetime | None) -> datetime:
    if now is not None:
        return now
    return get_clock().now()


def _serializer(secret_key: str, now: datetime, key: str | None = None) -> URLSafeTimedSerializer:
    stamp = int(now.timestamp())

    class AppClockSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return stamp

    # A run without a key (made before 0012) keeps the plain salt: its links made before still open it.
    return URLSafeTimedSerializer(secret_key, salt=SALT if key is None else f"{SALT}:{key}",
                                  signer=AppClockSigner)


def make_token(secret_key: str, run_id: int, *, version: int = 0, key: str | None = None,
               now: datetime | None = None) -> str:
    """``version``: the run's ``link_version`` (staff bump it to revoke the links made before); ``key``:
    the run's ``link_key``, so the link opens that run only, never a later run given the same id."""
    data: dict[str, int] = {"run": run_id}
    if version:
        data["v"] = version
    return _serializer(secret_key, _now(now), key).dumps(data)


class Link(NamedTuple):
    run_id: int
    version: int
    key: str | None    # the key it was signed with; None: a link of a run from before keys


class RunGone(Exception):
    """The link's run is not there: deleted, its id perhaps given to another run since. The driver pages
    answer it from the run's tombstone (``delivery.runs.removed_run``), or with a 404."""

    def __init__(self, link: Link) -> None:
        super().__init__(link.run_id)
        self.link = link


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def named_run(secret_key: str, token: str) -> int | None:
    """The run id the token names, NOT checked: only to find the key to check it with (``read_link``)."""
    _, data = _serializer(secret_key, _now(None)).loads_unsafe(token)
    return _int(data.get("run")) if isinstance(data, dict) else None


def read_link(secret_key: str, token: str, *, key: str | None = None, now: datetime | None = None,
              max_age_s: int = MAX_AGE_S) -> Link | None:
    """The link's run id and version if it was signed for a run with ``key``; None for a forged, altered
    or expired link (or one stamped after ``now``), or one made for another run's key."""
    try:
        data = _serializer(secret_key, _now(now), key).loads(token, max_age=max_age_s)
    except (BadSignature, SignatureExpired):
        return None
    if not isinstance(data, dict):
        return None
    run, version = _int(data.get("run")), _int(data.get("v", 0))
    return Link(run, version, key) if run is not None and version is not None else None


def read_token(secret_key: str, token: str, *, key: str | None = None, now: datetime | None = None,
               max_age_s: int = MAX_AGE_S) -> int | None:
    """The run id, or None for a forged, altered or expired link."""
    link = read_link(secret_key, token, key=key, now=now, max_age_s=max_age_s)
    return link.run_id if link else None


def driver_run(view: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator for the run page's routes: the ``token`` in the URL must be a valid, unexpired link
    signed for the run there under its id (its key) at the run's current link version (not revoked by
    staff), and the view gets the ``run_id`` it names (404 with a Japanese reason otherwise). A valid
    link of a run removed since (its key kept by the tombstone) raises ``RunGone``: the view never sees
    another run that got the id."""
    @functools.wraps(view)
    def wrapped(*args: Any, token: str, **kwargs: Any) -> Any:
        secret = current_app.config["SECRET_KEY"]
        run_id = named_run(secret, token)
        if run_id is None:
            abort(404, description=INVALID)
        with db.reading() as session:
            row = session.execute(select(Run.link_version, Run.link_key).where(Run.id == run_id)).first()
            link = read_link(secret, token, key=row.link_key) if row is not None else None
            current = (row.link_version or 0) if row is not None else 0
            if link is None:    # not this run's: perhaps a removed run's that had the id before
                gone = (read_link(secret, token, key=key) for key in removed_run_keys(session, run_id))
                link = next((found for found in gone if found is not None), None)
                if link is None:
                    abort(404, description=INVALID)
                raise RunGone(link)
        if link.version != current:
            abort(404, description=REVOKED)
        return view(*args, token=token, run_id=run_id, **kwargs)
    return wrapped
