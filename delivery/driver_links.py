"""Signed links to a driver's run page: no login on a phone in the snow, yet only the driver who was
sent the link can open it, and only until the day after the run (personal data is time-boxed).

The link's age is judged by the app's clock (``otodoke/clock.py``), not by ``time.time()`` as
itsdangerous does on its own: the signer below stamps and checks with the clock's "now", so a frozen or
moved clock (demos, tests) ages links the way it ages everything else.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any, Callable

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

SALT = "otodoke.driver-run"
MAX_AGE_S = 36 * 3600


def _now(now: datetime | None) -> datetime:
    if now is not None:
        return now
    from otodoke import get_clock   # the app's clock, when called inside the app without one
    return get_clock().now()


def _serializer(secret_key: str, now: datetime) -> URLSafeTimedSerializer:
    stamp = int(now.timestamp())

    class AppClockSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return stamp

    return URLSafeTimedSerializer(secret_key, salt=SALT, signer=AppClockSigner)


def make_token(secret_key: str, run_id: int, *, now: datetime | None = None) -> str:
    return _serializer(secret_key, _now(now)).dumps({"run": run_id})


def read_token(secret_key: str, token: str, *, now: datetime | None = None,
               max_age_s: int = MAX_AGE_S) -> int | None:
    """The run id, or None for a forged, altered or expired link (or one stamped after ``now``)."""
    try:
        data = _serializer(secret_key, _now(now)).loads(token, max_age=max_age_s)
    except (BadSignature, SignatureExpired):
        return None
    run = data.get("run") if isinstance(data, dict) else None
    return run if isinstance(run, int) and not isinstance(run, bool) else None


def driver_run(view: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator for the run page's routes: the ``token`` in the URL must be a valid, unexpired link, and
    the view gets the ``run_id`` it names (404 with a Japanese reason otherwise)."""
    @functools.wraps(view)
    def wrapped(*args: Any, token: str, **kwargs: Any) -> Any:
        from flask import abort, current_app

        run_id = read_token(current_app.config["SECRET_KEY"], token)
        if run_id is None:
            abort(404, description="このリンクは無効か、期限が切れています。担当者に連絡してください。")
        return view(*args, token=token, run_id=run_id, **kwargs)
    return wrapped
