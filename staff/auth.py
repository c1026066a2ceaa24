"""Staff sign-in (one shared coordinator password for the pilot) and CSRF tokens for every form.

Webhooks are the only routes without CSRF protection; they are signature-checked instead.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from urllib.parse import urlsplit
from datetime import datetime, timedelta
from collections.abc import Callable
from typing import Any, TypeVar

from flask import abort, current_app, redirect, request, session, url_for
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from otodoke import audit
from otodoke.models import AuditEntry

F = TypeVar("F", bound=Callable[..., Any])
DEV_PASSWORD = "otodoke-demo"


def staff_password() -> str:
    return current_app.config.get("STAFF_PASSWORD") or DEV_PASSWORD


def check_password(given: str) -> bool:
    return hmac.compare_digest(given.encode(), staff_password().encode())


def sign_in() -> None:
    session.clear()                 # a new session at sign-in (no fixation)
    session["staff"] = True
    session["csrf"] = secrets.token_urlsafe(24)


def signed_in() -> bool:
    return bool(session.get("staff"))


def staff_required(view: F) -> F:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not signed_in():
            # Keep the query (?date=...) so signing in lands on the page that was asked for.
            wanted = request.full_path if request.query_string else request.path
            return redirect(url_for("staff.login", next=wanted))
        return view(*args, **kwargs)
    return wrapped  # type: ignore[return-value]


def safe_next(target: str) -> str | None:
    """A local path to go back to after sign-in (any staff-only page); None for other sites.

    Control characters and spaces are refused outright: browsers drop a tab or newline from a URL, so
    "/<tab>/evil.example" would be followed as "//evil.example" (and a newline is a header injection)."""
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in target) or "\\" in target:
        return None
    if not target.startswith("/") or target.startswith("//"):
        return None
    parts = urlsplit(target)
    return None if parts.scheme or parts.netloc else target


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


def check_csrf() -> None:
    """Abort with 400 unless the form carries this session's token."""
    sent = request.form.get("csrf_token", "")
    if not sent or not hmac.compare_digest(sent, session.get("csrf", "")):
        abort(400, description="フォームの有効期限が切れました。ページを開き直してください。")


# Sign-in throttling: after this many wrong passwords from one address within the window, further
# attempts are refused (429) until the window passes; the real coordinator is never locked out for good.
MAX_FAILURES = 10
FAILURE_WINDOW_S = 600


def _client_key() -> str:
    # Hashed: the audit log holds no addresses, only a way to count attempts from the same one.
    address = request.remote_addr or "?"
    return hashlib.sha256((current_app.config["SECRET_KEY"] + address).encode()).hexdigest()[:32]


def too_many_failures(session: Session, now: datetime) -> bool:
    since = now - timedelta(seconds=FAILURE_WINDOW_S)
    count = session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "staff.login_failed", AuditEntry.subject_id == _client_key(),
        AuditEntry.at >= since))
    return int(count or 0) >= MAX_FAILURES


def record_failure(session: Session, now: datetime) -> None:
    audit.record(session, at=now, actor="anonymous", channel="web", action="staff.login_failed",
                 subject_type="client", subject_id=_client_key())
