"""Sign-in plumbing, declared once: Flask-Login sessions, Flask-WTF CSRF on every form, Flask-Limiter
throttling of sign-in, role decorators, the post-sign-in redirect check, and audit of page views.

Webhooks are the only routes without CSRF protection (they are signature-checked instead); they are
exempted where they are declared (``@csrf.exempt``).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, abort, g, redirect, render_template, request, session, url_for
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import AnonymousUserMixin, LoginManager, current_user
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf
from limits import parse
from werkzeug.exceptions import Forbidden
from werkzeug.middleware.proxy_fix import ProxyFix

from accounts.models import STAFF_ROLES, Account
from accounts.service import account_for_session_id
from core import audit
from core.clock import get_clock
from core.db import db

F = TypeVar("F", bound=Callable[..., Any])

csrf = CSRFProtect()
login_manager = LoginManager()
# No default limits: only sign-in is throttled here (the webhooks have their own body and signature
# checks). The storage is Redis when configured (shared by every web process), memory otherwise.
limiter = Limiter(key_func=get_remote_address, default_limits=[])

# Wrong passwords (or TOTP codes) allowed per account and per address in the window; then every
# attempt, right or wrong, gets the same 429 until the window passes.
SIGN_IN_LIMIT = parse("10 per 10 minutes")
LOCKED_MESSAGE = "失敗が続いたため、しばらく（10分ほど）お待ちください。"


@dataclass(frozen=True)
class SignedIn:
    """The signed-in account as the request sees it (a plain value: no ORM object outlives its session)."""

    id: int
    email: str
    display_name: str
    role: str
    shop_id: int | None
    driver_id: int | None
    generation: int
    totp_enabled: bool
    is_demo: bool

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        # The generation makes every older session's id unknown once it is raised.
        return f"{self.id}:{self.generation}"

    @property
    def actor(self) -> str:
        return f"account:{self.id}"

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    def can(self, *roles: str) -> bool:
        return self.role in roles


class Anonymous(AnonymousUserMixin):
    role = ""
    actor = "anonymous"
    is_staff = False

    def can(self, *roles: str) -> bool:
        return False


def signed_in_from(account: Account) -> SignedIn:
    return SignedIn(id=account.id, email=account.email, display_name=account.display_name, role=account.role,
                    shop_id=account.shop_id, driver_id=account.driver_id, generation=account.generation,
                    totp_enabled=account.totp_enabled, is_demo=account.is_demo)


@login_manager.user_loader
def _load(user_id: str) -> SignedIn | None:
    with db.reading() as session:
        account = account_for_session_id(session, user_id)
        return signed_in_from(account) if account is not None else None


@login_manager.unauthorized_handler
def _unauthorized():  # type: ignore[no-untyped-def]
    # Keep the query (?date=...) so signing in lands on the page that was asked for.
    wanted = request.full_path if request.query_string else request.path
    return redirect(url_for("accounts.login", next=wanted))


def role_required(*roles: str) -> Callable[[F], F]:
    """Signed out: to the sign-in page. Signed in with another role: 403."""
    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403, description="このページを開く権限がありません。必要なら管理者に頼んでください。")
            return view(*args, **kwargs)
        return wrapped  # type: ignore[return-value]
    return decorate


# Staff pages that only show: every staff role. Changes: admin and coordinator, never readonly.
staff_required = role_required("admin", "coordinator", "readonly")
staff_change_required = role_required("admin", "coordinator")
admin_required = role_required("admin")


def csrf_token() -> str:
    return generate_csrf()


def new_session() -> None:
    """A fresh session at each sign-in step (no session fixation); a new CSRF token comes with it."""
    session.clear()
    g.pop("csrf_token", None)


def safe_next(target: str) -> str | None:
    """A local path to go back to after sign-in (any page of this app); None for other sites.

    Control characters and spaces are refused outright: browsers drop a tab or newline from a URL, so
    "/<tab>/evil.example" would be followed as "//evil.example" (and a newline is a header injection)."""
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in target) or "\\" in target:
        return None
    if not target.startswith("/") or target.startswith("//"):
        return None
    parts = urlsplit(target)
    return None if parts.scheme or parts.netloc else target


def current_actor() -> str:
    return current_user.actor if current_user.is_authenticated else "anonymous"


def audit_view(page: str, subject_type: str, subject_id: object, **ids: Any) -> None:
    """Record that the signed-in person opened a page with residents' personal data (ids only)."""
    with db.transaction() as session:
        audit.record(session, at=get_clock().now(), actor=current_actor(), channel="web",
                     action=f"view.{page}", subject_type=subject_type, subject_id=subject_id, **ids)


# --- sign-in throttling ----------------------------------------------------------------------------

def _keys(email: str) -> list[str]:
    account = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    return [f"address:{get_remote_address()}", f"account:{account}"]


def sign_in_locked(email: str) -> bool:
    """Whether this address or this account has used up its wrong attempts (checked before the password,
    so a locked-out attempt learns nothing about it)."""
    return any(not limiter.limiter.test(SIGN_IN_LIMIT, "sign-in", key) for key in _keys(email))


def count_failure(email: str) -> None:
    for key in _keys(email):
        limiter.limiter.hit(SIGN_IN_LIMIT, "sign-in", key)


# --- set-up ----------------------------------------------------------------------------------------

def _storage_uri(config: Any) -> str:
    chosen = config.get("RATELIMIT_STORAGE_URI")
    if chosen:
        return str(chosen)
    jobs = str(config.get("JOBS_URL") or "")
    if jobs.startswith(("redis://", "rediss://")) and not config.get("TESTING"):
        return jobs
    return "memory://"


def init_app(app: Flask) -> None:
    config = app.config
    production = config.get("ENV_NAME") == "production"
    # Flask's defaults exist as keys already (SameSite unset, Secure off), so setdefault would do nothing:
    # SameSite is Lax unless configured stricter; HttpOnly always; Secure always in production.
    config["SESSION_COOKIE_HTTPONLY"] = True
    config["SESSION_COOKIE_SAMESITE"] = config.get("SESSION_COOKIE_SAMESITE") or "Lax"
    if production:
        config["SESSION_COOKIE_SECURE"] = True
        config["REMEMBER_COOKIE_SECURE"] = True
    # A driver's run page stays open all day in the van: the token lives as long as the session.
    config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    config["RATELIMIT_STORAGE_URI"] = _storage_uri(config)
    config.setdefault("RATELIMIT_HEADERS_ENABLED", False)

    proxies = int(config.get("TRUSTED_PROXIES") or 0)
    if proxies > 0:
        # Only behind a known number of proxies is X-Forwarded-For believed (else anyone could pick
        # the address their sign-in attempts count against).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)  # type: ignore[method-assign]

    @app.before_request
    def _nothing_from_another_request() -> None:
        # Flask-Login and Flask-WTF cache the user and the CSRF token in ``g``, which lives as long as
        # the app context: one per request in a server, but shared when a caller (a test, a script)
        # holds an app context around several requests. Each request loads its own.
        g.pop("_login_user", None)
        g.pop("csrf_token", None)

    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.anonymous_user = Anonymous
    login_manager.session_protection = "basic"
    limiter.init_app(app)

    @app.errorhandler(CSRFError)
    def _csrf_failed(error: CSRFError):  # type: ignore[no-untyped-def]
        return render_template("accounts/error.html", title="フォームの有効期限が切れました",
                               message="フォームの有効期限が切れました。ページを開き直してから、もう一度お試しください。"), 400

    @app.errorhandler(403)
    def _forbidden(error: Forbidden):  # type: ignore[no-untyped-def]
        # A view's own reason (a webhook's "not configured", a role check's sentence) is kept.
        reason = error.description if error.description != Forbidden.description else ""
        return render_template("accounts/error.html", title="権限がありません",
                               message=reason or "このページを開く権限がありません。必要なら管理者に頼んでください。"), 403

    @app.context_processor
    def _who() -> dict[str, Any]:
        return {"me": current_user}
