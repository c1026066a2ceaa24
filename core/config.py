"""All configuration comes from the environment, read here and nowhere else.

Defaults give an embedded set-up that runs with one command: an SQLite database and an SQLite job
queue in the instance folder, no LINE or Twilio account (those channels then report themselves as
unconfigured; they are never faked outside the sandbox).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping

TIMEZONE = "Asia/Tokyo"
MAX_BODY_BYTES = 1_000_000


def normalise_database_url(url: str) -> str:
    """Accept Heroku-style ``postgres://`` and plain ``postgresql://`` URLs; use psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


@dataclass(frozen=True)
class ChannelStatus:
    """Whether an external channel can really send, and if not, what is missing (for start-up and /)."""

    name: str
    configured: bool
    missing: tuple[str, ...]


def from_env(environ: Mapping[str, str], instance_path: str) -> dict[str, Any]:
    """Build the Flask config mapping from environment variables."""
    database_url = environ.get("DATABASE_URL") or "sqlite:///" + os.path.join(instance_path, "otodoke.db")
    return {
        "SECRET_KEY": environ.get("SECRET_KEY", "dev-only-not-secret"),
        "ENV_NAME": environ.get("OTODOKE_ENV", "development"),
        "DATABASE_URL": normalise_database_url(database_url),
        "TIMEZONE": TIMEZONE,
        # Frozen "now" for demos and manual testing, ISO 8601 in Asia/Tokyo (tests inject a clock object).
        "FROZEN_NOW": environ.get("OTODOKE_FROZEN_NOW") or None,
        "LINE_CHANNEL_SECRET": environ.get("LINE_CHANNEL_SECRET", ""),
        "LINE_CHANNEL_ACCESS_TOKEN": environ.get("LINE_CHANNEL_ACCESS_TOKEN", ""),
        "LINE_API_HOST": environ.get("LINE_API_HOST") or None,
        # The browser LINE sandbox (/sandbox/line) with an in-app fake LINE API: "1"/"0"; empty means
        # on exactly when no real LINE credentials are configured (bot/__init__.py).
        "LINE_SANDBOX": environ.get("LINE_SANDBOX", ""),
        "TWILIO_ACCOUNT_SID": environ.get("TWILIO_ACCOUNT_SID", ""),
        "TWILIO_AUTH_TOKEN": environ.get("TWILIO_AUTH_TOKEN", ""),
        "TWILIO_API_BASE_URL": environ.get("TWILIO_API_BASE_URL") or None,
        "TWILIO_FROM_NUMBER": environ.get("TWILIO_FROM_NUMBER", ""),
        # Phone line: a Japanese voice Twilio offers (Polly.Mizuki, Polly.Takumi, Google.ja-JP-*), the
        # SSML speaking rate, and whether /sandbox/phone acts as Twilio (default: on unless Twilio is
        # configured or ENV is production).
        "TWILIO_VOICE": environ.get("TWILIO_VOICE", "Polly.Mizuki"),
        "TWILIO_SPEECH_RATE": environ.get("TWILIO_SPEECH_RATE", "85%"),
        "TWILIO_SANDBOX": environ.get("TWILIO_SANDBOX") or None,
        "PUBLIC_BASE_URL": environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000"),
        # sqlite:///path (default: a file of its own in the instance folder, never the app database,
        # because the queue's dequeue takes an exclusive lock) or redis://host:port/db.
        "JOBS_URL": environ.get("JOBS_URL") or "sqlite:///" + os.path.join(instance_path, "jobs.db"),
        "COORDINATOR_PHONE": environ.get("COORDINATOR_PHONE", "0238-00-0000"),
        "OUTBOX_MAX_ATTEMPTS": int(environ.get("OUTBOX_MAX_ATTEMPTS", "12")),
        "ROUTING_URL": environ.get("ROUTING_URL") or None,
        # How many reverse proxies (load balancer, PaaS router) stand in front of the app: only then is
        # X-Forwarded-For believed for the client address (sign-in throttling counts per address).
        "TRUSTED_PROXIES": int(environ.get("TRUSTED_PROXIES", "0") or 0),
        # Where sign-in attempts are counted: a Redis URL shared by every web process; by default the
        # job queue's Redis when it has one, else each process's memory.
        "RATELIMIT_STORAGE_URI": environ.get("RATELIMIT_STORAGE_URL") or None,
        "PLANNING_TIME_LIMIT_S": float(environ.get("PLANNING_TIME_LIMIT_S", "10")),
        # Werkzeug's cap on every request body, chunked ones too (it stops reading past it: 413). LINE
        # batches are a few KB, Twilio forms and staff forms smaller; nothing here uploads files.
        "MAX_CONTENT_LENGTH": MAX_BODY_BYTES,
        # Retention of personal data (residents/privacy.py, the worker's daily job); 0 turns a rule off:
        # residents with no registration, order or LINE conversation for this many years are anonymised,
        # call-recording links and conversation state are dropped after these many days.
        "RETENTION_INACTIVE_YEARS": int(environ.get("RETENTION_INACTIVE_YEARS", "3")),
        "RETENTION_RECORDING_DAYS": int(environ.get("RETENTION_RECORDING_DAYS", "90")),
        "RETENTION_CONVERSATION_DAYS": int(environ.get("RETENTION_CONVERSATION_DAYS", "30")),
    }


def channel_statuses(config: Mapping[str, Any]) -> list[ChannelStatus]:
    """Report which external channels have credentials; the caller says so at start-up and on /."""
    def status(name: str, keys: tuple[str, ...]) -> ChannelStatus:
        missing = tuple(k for k in keys if not config.get(k))
        return ChannelStatus(name=name, configured=not missing, missing=missing)

    return [
        status("LINE", ("LINE_CHANNEL_SECRET", "LINE_CHANNEL_ACCESS_TOKEN")),
        status("Twilio", ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER")),
    ]


def check_production(config: Mapping[str, Any]) -> None:
    """Refuse to start in production with a default (or short) secret key: it signs staff sessions and
    driver and shop links."""
    if config.get("ENV_NAME") != "production":
        return
    if config.get("SECRET_KEY") in ("", "dev-only-not-secret") or len(str(config.get("SECRET_KEY"))) < 16:
        raise RuntimeError("SECRET_KEY (16 characters or more, not the development value) must be set in production")


def parse_flag(value: object) -> bool | None:
    """A yes/no setting: None when unset, so the caller can choose the default."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def sandbox_enabled(config: Mapping[str, Any], key: str, *, real_channel: bool) -> bool:
    """Whether a channel's browser sandbox runs: as set in ``key``; by default only when the real channel
    is not configured, and never in tests (they opt in) or in production (the pages list residents)."""
    chosen = parse_flag(config.get(key))
    if chosen is not None:
        return chosen
    return not real_channel and not config.get("TESTING") and config.get("ENV_NAME") != "production"
