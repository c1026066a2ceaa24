"""Sign-in (password, then a TOTP code for admin/coordinator), sign-out, invitations, the accounts page
and the audit log page. Thin adapters over accounts/service.py."""

from __future__ import annotations

import segno
from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from markupsafe import Markup

from accounts import service
from accounts.forms import AcceptForm, CodeForm, EmptyForm, InviteForm, LoginForm, RoleForm
from accounts.models import ROLE_LABELS, Account
from accounts.security import (LOCKED_MESSAGE, admin_required, count_failure, new_session, safe_next,
                               sign_in_locked, signed_in_from)
from core import audit
from core.clock import JST, get_clock
from core.db import db
from core.errors import DomainError

bp = Blueprint("accounts", __name__, url_prefix="/staff", template_folder="templates")

_PENDING = "pending_account"       # "id:generation" between the password and the TOTP code
_PENDING_NEXT = "pending_next"


def home_for(role: str) -> str:
    if role == "shop":
        return url_for("shop.home")
    if role == "driver":
        return url_for("driver.home")
    return url_for("staff.dashboard")


def _finish(account: Account, target: str | None):  # type: ignore[no-untyped-def]
    """Start a fresh session (no fixation) for the account and go where sign-in was asked from."""
    new_session()
    account.last_login_at = get_clock().now()
    login_user(signed_in_from(account))
    return redirect(target or home_for(account.role))


def _pending_account(db_session) -> Account | None:  # type: ignore[no-untyped-def]
    """The account half signed in (password right, TOTP code still to come) in this browser session."""
    return service.account_for_session_id(db_session, session.get(_PENDING, ""))


@bp.route("/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    form = LoginForm()
    error, status = None, 200
    if request.method == "POST":
        if not form.validate():
            error, status = "メールアドレスとパスワードを入力してください。", 400
        elif sign_in_locked(form.email.data):
            # The same answer, right password or not: a lockout tells a guesser nothing.
            error, status = LOCKED_MESSAGE, 429
        else:
            with db.transaction() as db_session:
                account = service.authenticate(db_session, email=form.email.data, password=form.password.data)
                target = safe_next(request.args.get("next", ""))
                if account is None:
                    count_failure(form.email.data)
                    audit.record(db_session, at=get_clock().now(), actor="anonymous", channel="web",
                                 action="account.login_failed", subject_type="sign_in", subject_id="-")
                    error, status = "メールアドレスかパスワードが違います。", 401
                elif account.needs_totp and (account.totp_enabled or not account.is_demo):
                    new_session()
                    session[_PENDING] = f"{account.id}:{account.generation}"
                    session[_PENDING_NEXT] = target or ""
                    return redirect(url_for("accounts.totp" if account.totp_enabled else "accounts.enrol"))
                else:
                    return _finish(account, target)
    return render_template("accounts/login.html", form=form, error=error), status


@bp.route("/login/code", methods=["GET", "POST"])
def totp():  # type: ignore[no-untyped-def]
    """The second step for admin and coordinator accounts: the 6-digit code from the phone app."""
    form = CodeForm()
    error, status = None, 200
    with db.transaction() as db_session:
        account = _pending_account(db_session)
        if account is None or not account.totp_enabled:
            return redirect(url_for("accounts.login"))
        if request.method == "POST":
            if sign_in_locked(account.email):
                error, status = LOCKED_MESSAGE, 429
            elif form.validate() and service.verify_totp(db_session, account, form.code.data, now=get_clock().now()):
                return _finish(account, safe_next(session.get(_PENDING_NEXT, "")))
            else:
                count_failure(account.email)
                error, status = "確認コードが違います。アプリに表示されている6けたの数字を入力してください。", 401
    return render_template("accounts/totp.html", form=form, error=error), status


@bp.route("/login/enrol", methods=["GET", "POST"])
def enrol():  # type: ignore[no-untyped-def]
    """First sign-in of an admin or coordinator: scan the QR code into an authenticator app, confirm a code."""
    form = CodeForm()
    error, status = None, 200
    with db.transaction() as db_session:
        account = _pending_account(db_session)
        if account is None or account.totp_enabled:
            return redirect(url_for("accounts.login"))
        uri = service.start_totp_enrolment(db_session, account)
        if request.method == "POST":
            if sign_in_locked(account.email):
                error, status = LOCKED_MESSAGE, 429
            elif form.validate() and service.confirm_totp(db_session, account, form.code.data, now=get_clock().now()):
                flash("二段階認証を設定しました。次回から確認コードも入力します。")
                return _finish(account, safe_next(session.get(_PENDING_NEXT, "")))
            else:
                count_failure(account.email)
                error, status = "確認コードが違います。もう一度アプリの数字を入力してください。", 401
        secret = account.totp_secret
    qr = Markup(segno.make(uri, error="m").svg_inline(scale=6, border=4))
    return render_template("accounts/enrol.html", form=form, error=error, qr=qr, secret=secret), status


@bp.post("/login/enrol-now")
def enrol_now():  # type: ignore[no-untyped-def]
    """A demo admin/coordinator who skipped enrolment can still try it from the dashboard."""
    if not current_user.is_authenticated or current_user.totp_enabled:
        return redirect(url_for("accounts.login"))
    session[_PENDING] = current_user.get_id()
    session[_PENDING_NEXT] = url_for("staff.dashboard")
    return redirect(url_for("accounts.enrol"))


@bp.post("/logout")
def logout():  # type: ignore[no-untyped-def]
    """Sign out on every device: the account's generation goes up, so a copied cookie stops working too."""
    if current_user.is_authenticated:
        with db.transaction() as db_session:
            account = service.find_account(db_session, current_user.id)
            if account is not None:
                service.end_all_sessions(db_session, account, now=get_clock().now(), actor=current_user.actor)
    logout_user()
    new_session()
    return redirect(url_for("home.index"))


# --- invitations ---------------------------------------------------------------------------------

@bp.route("/invite/<token>", methods=["GET", "POST"])
def accept(token: str):  # type: ignore[no-untyped-def]
    form = AcceptForm()
    now = get_clock().now()
    error, status = None, 200
    with db.transaction() as db_session:
        try:
            invitation = service.open_invitation(db_session, token, now=now)
        except DomainError as failure:
            return render_template("accounts/error.html", title="招待リンク", message=failure.message), 404
        email, role = invitation.email, invitation.role
        if request.method == "POST":
            if form.validate():
                try:
                    service.accept_invitation(db_session, token, display_name=form.display_name.data,
                                              password=form.password.data, now=now)
                except DomainError as failure:
                    error, status = failure.message, 400
                else:
                    flash("アカウントを作りました。メールアドレスとパスワードでログインしてください。")
                    return redirect(url_for("accounts.login"))
            else:
                error, status = " ".join(e for errors in form.errors.values() for e in errors), 400
    return render_template("accounts/accept.html", form=form, email=email, role=ROLE_LABELS[role],
                           error=error), status


# --- the accounts page (admin) -------------------------------------------------------------------

@bp.get("/accounts")
@admin_required
def accounts_page() -> str:
    with db.reading() as db_session:
        accounts = service.list_accounts(db_session)
        shops, drivers = service.role_choices(db_session)
        return render_template("accounts/accounts.html", accounts=accounts, shops=shops, drivers=drivers,
                               labels=ROLE_LABELS, form=EmptyForm(), invite_form=InviteForm(),
                               link=session.pop("invite_link", None))


@bp.post("/accounts/invite")
@admin_required
def invite():  # type: ignore[no-untyped-def]
    form = InviteForm()
    if not form.validate():
        flash("メールアドレスと役割を確かめてください。")
        return redirect(url_for("accounts.accounts_page"))
    try:
        with db.transaction() as db_session:
            made = service.invite(db_session, email=form.email.data, role=form.role.data, now=get_clock().now(),
                                  actor_id=current_user.id, shop_id=form.shop_id.data, driver_id=form.driver_id.data)
            days = service.INVITATION_DAYS
        session["invite_link"] = url_for("accounts.accept", token=made.token, _external=True)
        flash(f"{form.email.data} さんへの招待リンクを作りました（{days}日間、1回だけ使えます）。本人に渡してください。")
    except DomainError as failure:
        flash(failure.message)
    return redirect(url_for("accounts.accounts_page"))


@bp.post("/accounts/<int:account_id>/role")
@admin_required
def set_role(account_id: int):  # type: ignore[no-untyped-def]
    form = RoleForm()
    if not form.validate():
        abort(400, description="役割を選んでください。")
    try:
        with db.transaction() as db_session:
            service.change_role(db_session, account_id=account_id, role=form.role.data, now=get_clock().now(),
                                actor=current_user.actor, shop_id=form.shop_id.data, driver_id=form.driver_id.data)
        flash("役割を変えました。その人は新しい役割でログインし直します。")
    except DomainError as failure:
        if failure.http_status == 404:
            abort(404, description=failure.message)
        flash(failure.message)
    return redirect(url_for("accounts.accounts_page"))


def _set_disabled(account_id: int, disabled: bool):  # type: ignore[no-untyped-def]
    EmptyForm().validate()
    try:
        with db.transaction() as db_session:
            account = service.set_disabled(db_session, account_id=account_id, disabled=disabled,
                                           now=get_clock().now(), actor=current_user.actor)
            email = account.email
        flash(f"{email} を{'停止しました（すべての端末でログアウトしました）' if disabled else '再開しました'}。")
    except DomainError as failure:
        if failure.http_status == 404:
            abort(404, description=failure.message)
        flash(failure.message)
    return redirect(url_for("accounts.accounts_page"))


@bp.post("/accounts/<int:account_id>/disable")
@admin_required
def disable(account_id: int):  # type: ignore[no-untyped-def]
    return _set_disabled(account_id, True)


@bp.post("/accounts/<int:account_id>/enable")
@admin_required
def enable(account_id: int):  # type: ignore[no-untyped-def]
    return _set_disabled(account_id, False)


@bp.get("/audit")
@admin_required
def audit_page() -> str:
    """The audit log, newest first (ids only: the log holds no personal data)."""
    try:
        before = int(request.args.get("before", "0") or 0)
    except ValueError:
        before = 0
    with db.reading() as db_session:
        entries = audit.recent_entries(db_session, before=before)
    return render_template("accounts/audit.html", entries=entries, jst=JST,
                           older=entries[-1].id if len(entries) == audit.AUDIT_PAGE else None)
