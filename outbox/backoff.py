"""Retry delays for outbox rows: exponential with full jitter (AWS Architecture Blog, "Exponential
Backoff and Jitter"), so that 30 messages that failed together during an outage do not all come back in
the same second when LINE or Twilio recovers."""

from __future__ import annotations

import math
import random

BASE_S = 5.0
CAP_S = 600.0
# Full jitter can draw ~0; a floor keeps a flapping API from turning the worker into a busy loop.
FLOOR_S = 1.0
# The longest ``Retry-After`` we honour: a header asking for more (a typo, a proxy's nonsense, or 1e308,
# which would overflow the date arithmetic) is held to an hour; the row keeps its attempts and horizon.
MAX_RETRY_AFTER_S = 3600.0


def retry_after_seconds(value: object) -> float | None:
    """A ``Retry-After`` (delay-seconds, as a header string or a number) as seconds to honour, or None
    for "use the normal backoff": missing, unparsable (an HTTP date included: neither LINE nor Twilio
    sends one, and reading it would need the API's clock), not finite (``inf``, ``nan``), zero or
    negative. A finite wait longer than ``MAX_RETRY_AFTER_S`` is clamped to it."""
    if value is None or isinstance(value, bool):
        return None
    try:
        seconds = float(value.strip() if isinstance(value, str) else value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None
    if not math.isfinite(seconds) or seconds <= 0:
        return None
    return min(seconds, MAX_RETRY_AFTER_S)


def retry_delay(attempt: int, *, retry_after_s: float | None = None, base_s: float = BASE_S,
                cap_s: float = CAP_S, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1 = the first send).

    Never less than ``retry_after_s`` when the API said how long to wait (429 ``Retry-After``), as
    clamped by ``retry_after_seconds`` (a sender that forgot to clamp cannot push a row out by years).
    """
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    ceiling = min(cap_s, base_s * 2 ** min(attempt - 1, 30))
    delay = max(FLOOR_S, (rng or random).uniform(0, ceiling))
    wait = retry_after_seconds(retry_after_s)
    if wait is not None and wait > delay:
        delay = wait
    return delay
