"""Signed links to a driver's run page: no login on a phone in the snow, yet only the driver who was
sent the link can open it, and only until the day after the run (personal data is time-boxed).

The link's age is judged by the app's clock (``core/clock.py``), not by ``time.time()`` as
itsdangerous does on its own: the signer below stamps and checks with the clock's "now", so a frozen or
moved clock (demos, tests) ages links the way it ages everything else.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any, Callable

from flask import abort, current_app
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select

from core.clock import get_clock   # the app's clock, when called inside the app without one
from core.db import db
from delivery.models import Run

SALT = "otodoke.driver-run"
MAX_AGE_S = 36 * 3600


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


def make_token(secret_key: str, run_id: int, *, version: int = 0, now: datetime | None = None) -> str:
    """``version``: the run's ``link_version`` (staff bump it to revoke the links made before)."""
    data: dict[str, int] = {"run": run_id}
    if version:
        data["v"] = version
    return _serializer(secret_key, _now(now)).dumps(data)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def read_link(secret_key: str, token: str, *, now: datetime | None = None,
              max_age_s: int = MAX_AGE_S) -> tuple[int, int] | None:
    """(run id, link version), or None for a forged, altered or expired link (or one stamped after ``now``)."""
    try:
        data = _serializer(secret_key, _now(now)).loads(token, max_age=max_age_s)
    except (BadSignature, SignatureExpired):
        return None
    if not isinstance(data, dict):
        return None
    run, version = _int(data.get("run")), _int(data.get("v", 0))
    return (run, version) if run is not None and version is not None else None


def read_token(secret_key: str, token: str, *, now: datetime | None = None,
               max_age_s: int = MAX_AGE_S) -> int | None:
    """The run id, or None for a forged, altered or expired link."""
    link = read_link(secret_key, token, now=now, max_age_s=max_age_s)
    return link[0] if link else None


def driver_run(view: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator for the run page's routes: the ``token`` in the URL must be a valid, unexpired link of
    the run's current link version (not revoked by staff), and the view gets the ``run_id`` it names
    (404 with a Japanese reason otherwise)."""
    @functools.wraps(view)
    def wrapped(*args: Any, token: str, **kwargs: Any) -> Any:
        link = read_link(current_app.config["SECRET_KEY"], token)
        if link is None:
            abort(404, description="このリンクは無効か、期限が切れています。担当者に連絡してください。")
        run_id, version = link
        if version != _current_version(run_id):
            abort(404, description="このリンクは取り消されました。担当者に連絡して、新しいリンクを受け取ってください。")
        return view(*args, token=token, run_id=run_id, **kwargs)
    return wrapped


def _current_version(run_id: int) -> int:
    """The run's link version; 0 for a run that is not there (the view then says so with its 404)."""
    with db.reading() as session:
        return session.scalar(select(Run.link_version).where(Run.id == run_id)) or 0
