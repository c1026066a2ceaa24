"""Signed links to a driver's run page: no login on a phone in the snow, yet only the driver who was
sent the link can open it, and only until the day after the run (personal data is time-boxed).

The link's age is judged by the app's clock (``core/clock.py``), not by ``time.time()`` as
itsdangerous does on its own: the signer below stamps and checks with the clock's "now", so a frozen or
moved clock (demos, tests) ages links the way it ages everything else.
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

SALT = "otodoke.driver-run"
MAX_AGE_S = 36 * 3600
REVOKED = "このリンクは取り消されました。担当者に連絡して、新しいリンクを受け取ってください。"


def _now(now: datetime | None) -> datetime:
    if now is not None:
        return now
    return get_clock().now()


def _serializer(secret_key: str, now: datetime) -> URLSafeTimedSerializer:
    stamp = int(now.timestamp())

    class AppClockSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return stamp

    return URLSafeTimedSerializer(secret_key, salt=SALT, signer=AppClockSigner)


def make_token(secret_key: str, run_id: int, *, version: int = 0, key: str | None = None,
               now: datetime | None = None) -> str:
    """``version``: the run's ``link_version`` (staff bump it to revoke the links made before); ``key``:
    the run's ``link_key``, so the link opens that run only, never a later run given the same id."""
    data: dict[str, int | str] = {"run": run_id}
    if version:
        data["v"] = version
    if key is not None:
        data["k"] = key
    return _serializer(secret_key, _now(now)).dumps(data)


class Link(NamedTuple):
    run_id: int
    version: int
    key: str | None    # None: a link made before runs had a key


class RunGone(Exception):
    """The link's run is not there: deleted, or its id now belongs to another run (the key differs).
    The driver pages answer it from the run's tombstone (``delivery.runs.removed_run``) or with a 404."""

    def __init__(self, link: Link) -> None:
        super().__init__(link.run_id)
        self.link = link


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def read_link(secret_key: str, token: str, *, now: datetime | None = None,
              max_age_s: int = MAX_AGE_S) -> Link | None:
    """The link's run id, version and key, or None for a forged, altered or expired link (or one stamped
    after ``now``)."""
    try:
        data = _serializer(secret_key, _now(now)).loads(token, max_age=max_age_s)
    except (BadSignature, SignatureExpired):
        return None
    if not isinstance(data, dict):
        return None
    run, version, key = _int(data.get("run")), _int(data.get("v", 0)), data.get("k")
    if run is None or version is None or not (key is None or isinstance(key, str)):
        return None
    return Link(run, version, key)


def read_token(secret_key: str, token: str, *, now: datetime | None = None,
               max_age_s: int = MAX_AGE_S) -> int | None:
    """The run id, or None for a forged, altered or expired link."""
    link = read_link(secret_key, token, now=now, max_age_s=max_age_s)
    return link.run_id if link else None


def driver_run(view: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator for the run page's routes: the ``token`` in the URL must be a valid, unexpired link of
    the run it was made for (its key) at the run's current link version (not revoked by staff), and the
    view gets the ``run_id`` it names (404 with a Japanese reason otherwise). A link whose run is gone,
    or whose id now names another run, raises ``RunGone``: the view never sees that other run."""
    @functools.wraps(view)
    def wrapped(*args: Any, token: str, **kwargs: Any) -> Any:
        link = read_link(current_app.config["SECRET_KEY"], token)
        if link is None:
            abort(404, description="このリンクは無効か、期限が切れています。担当者に連絡してください。")
        with db.reading() as session:
            row = session.execute(select(Run.link_version, Run.link_key).where(Run.id == link.run_id)).first()
        # The key first: a reused id's version says nothing about the link's own run.
        if row is None or row.link_key != link.key:
            raise RunGone(link)
        if link.version != (row.link_version or 0):
            abort(404, description=REVOKED)
        return view(*args, token=token, run_id=link.run_id, **kwargs)
    return wrapped
