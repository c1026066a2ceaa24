"""Signed links to a driver's run page: no login on a phone in the snow, yet only the driver who was
sent the link can open it, and only until the day after the run (personal data is time-boxed)."""

from __future__ import annotations

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

SALT = "otodoke.driver-run"
MAX_AGE_S = 36 * 3600


def make_token(secret_key: str, run_id: int) -> str:
    return URLSafeTimedSerializer(secret_key, salt=SALT).dumps({"run": run_id})


def read_token(secret_key: str, token: str, *, max_age_s: int = MAX_AGE_S) -> int | None:
    """The run id, or None for a forged, altered or expired link."""
    try:
        data = URLSafeTimedSerializer(secret_key, salt=SALT).loads(token, max_age=max_age_s)
    except (BadSignature, SignatureExpired):
        return None
    return int(data["run"]) if isinstance(data, dict) and "run" in data else None
