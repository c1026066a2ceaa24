"""Retry delays for outbox rows: exponential with full jitter (AWS Architecture Blog, "Exponential
Backoff and Jitter"), so that 30 messages that failed together during an outage do not all come back in
the same second when LINE or Twilio recovers."""

from __future__ import annotations

import random

BASE_S = 5.0
CAP_S = 600.0
# Full jitter can draw ~0; a floor keeps a flapping API from turning the worker into a busy loop.
FLOOR_S = 1.0


def retry_delay(attempt: int, *, retry_after_s: float | None = None, base_s: float = BASE_S,
                cap_s: float = CAP_S, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1 = the first send).

    Never less than ``retry_after_s`` when the API said how long to wait (429 ``Retry-After``).
    """
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    ceiling = min(cap_s, base_s * 2 ** min(attempt - 1, 30))
    delay = max(FLOOR_S, (rng or random).uniform(0, ceiling))
    if retry_after_s is not None and retry_after_s > delay:
        delay = retry_after_s
    return delay
