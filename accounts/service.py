"""Account use cases over a caller-owned session (the caller commits). Every change is audited."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import ROLES, Account, Invitation
from delivery.models import Driver
from core import audit
from core.errors import Conflict, DomainError, NotFound
from shops.models import Shop

_HASHER = PasswordHasher()     # argon2id with the library's current recommended parameters
MIN_PASSWORD = 10
INVITATION_DAYS = 3
TOTP_ISSUER = "お届け"
# A hash to verify against when the e-mail is unknown, so that an unknown address takes as long as a
# wrong password (no account enumeration by timing).
_DUMMY_HASH = _HASHER.hash("not-a-password-" + secrets.token_hex(8))


def normalise_email(email: str) -> str:
    return email.strip().lower()


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise DomainError("weak_password", f"パスワードは{MIN_PASSWORD}文字以上にしてください。")


def _check_role(session: Session, role: str, shop_id: int | None, driver_id: int | None) -> None:
    if role not in ROLES:
        raise DomainError("unknown_role", "役割を選んでください。")
    if role == "shop" and (shop_id is None or session.get(Shop, shop_id) is None):
        raise DomainError("shop_required", "お店の担当者には、お店を選んでください。")
    if role == "driver" and (driver_id is None or session.get(Driver, driver_id) is None):
        raise DomainError("driver_required", "配達員のアカウントには、配達員を選んでください。")


def create_account(session: Session, *, email: str, display_name: str, password: str, role: str,
                   now: datetime, actor: str, shop_id: int | None = None, driver_id: int | None = None,
                   is_demo: bool = False, password_hash: str | None = None) -> Account:
    email = normalise_email(email)
    if "@" not in email or len(email) > 254:
        raise DomainError("bad_email", "メールアドレスを確かめてください。")
    if not display_name.strip():
        raise DomainError("name_required", "お名前を入力してください。")
    if password_hash is None:
        check_password_rules(password)
    _check_role(session, role, shop_id, driver_id)
    if session.scalar(select(Account.id).where(Account.email == email)) is not None:
        raise Conflict("email_taken", "そのメールアドレスのアカウントはすでにあります。")
    account = Account(email=email, display_name=display_name.strip()[:64],
                      password_hash=password_hash or hash_password(password), role=role,
                      shop_id=shop_id if role == "shop" else None,
                      driver_id=driver_id if role == "driver" else None,
                      is_demo=is_demo, created_at=now, generation=1, disabled=False,
                      totp_enabled=False, totp_last_step=0)
    session.add(account)
    session.flush()
    audit.record(session, at=now, actor=actor, channel="web", action="account.created",
                 subject_type="account", subject_id=account.id, role=role)
    return account


def authenticate(session: Session, *, email: str, password: str) -> Account | None:
    """The enabled account with this e-mail and password, or None (same work either way)."""
    account = session.scalar(select(Account).where(Account.email == normalise_email(email)))
    try:
        _HASHER.verify(account.password_hash if account else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if account is None or account.disabled:
        return None
    if _HASHER.check_needs_rehash(account.password_hash):
        account.password_hash = hash_password(password)
    return account


def find_account(session: Session, account_id: int) -> Account | None:
    return session.get(Account, account_id)


def account_for_session_id(session: Session, value: str) -> Account | None:
    """The account a session id ``"id:generation"`` names (``SignedIn.get_id``, and the half-signed-in
    state between password and TOTP code), or None when it is malformed, unknown, disabled, or of an
    older generation (signed out everywhere, disabled or role changed since)."""
    try:
        account_id, generation = (int(part) for part in value.split(":"))
    except ValueError:
        return None
    account = session.get(Account, account_id)
    if account is None or account.disabled or account.generation != generation:
        return None
    return account


def list_accounts(session: Session) -> list[Account]:
    return list(session.scalars(select(Account).order_by(Account.id)))


def role_choices(session: Session) -> tuple[list[Shop], list[Driver]]:
    """Every shop and every driver, by id: what a shop or driver account may be tied to."""
    return (list(session.scalars(select(Shop).order_by(Shop.id))),
            list(session.scalars(select(Driver).order_by(Driver.id))))


def get_account(session: Session, account_id: int) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound("unknown_account", "そのアカウントは見つかりませんでした。")
    return account


def end_all_sessions(session: Session, account: Account, *, now: datetime, actor: str) -> None:
    account.generation += 1
    audit.record(session, at=now, actor=actor, channel="web", action="account.sessions_ended",
                 subject_type="account", subject_id=account.id)


def set_disabled(session: Session, *, account_id: int, disabled: bool, now: datetime, actor: str) -> Account:
    account = get_account(session, account_id)
    if disabled and actor == f"account:{account.id}":
        raise DomainError("self_disable", "自分のアカウントは止められません。")
    account.disabled = disabled
    account.generation += 1            # every session of the account ends at once
    audit.record(session, at=now, actor=actor, channel="web",
                 action="account.disabled" if disabled else "account.enabled",
                 subject_type="account", subject_id=account.id)
    return account


def change_role(session: Session, *, account_id: int, role: str, now: datetime, actor: str,
                shop_id: int | None = None, driver_id: int | None = None) -> Account:
    account = get_account(session, account_id)
    if actor == f"account:{account.id}" and role != account.role:
        raise DomainError("self_role", "自分の役割は変えられません（ほかの管理者に頼んでください）。")
    _check_role(session, role, shop_id, driver_id)
    old = account.role
    account.role = role
    account.shop_id = shop_id if role == "shop" else None
    account.driver_id = driver_id if role == "driver" else None
    account.generation += 1            # a session keeps no rights of the old role
    audit.record(session, at=now, actor=actor, channel="web", action="account.role_changed",
                 subject_type="account", subject_id=account.id, old=old, new=role)
    return account


# --- invitations --------------------------------------------------------------------------------

def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class NewInvitation:
    invitation: Invitation
    token: str        # shown once to the admin, as part of the link; only its hash is stored


def invite(session: Session, *, email: str, role: str, now: datetime, actor_id: int | None,
           shop_id: int | None = None, driver_id: int | None = None) -> NewInvitation:
    email = normalise_email(email)
    if "@" not in email or len(email) > 254:
        raise DomainError("bad_email", "メールアドレスを確かめてください。")
    _check_role(session, role, shop_id, driver_id)
    if session.scalar(select(Account.id).where(Account.email == email)) is not None:
        raise Conflict("email_taken", "そのメールアドレスのアカウントはすでにあります。")
    token = secrets.token_urlsafe(32)
    invitation = Invitation(token_hash=_token_hash(token), email=email, role=role,
                            shop_id=shop_id if role == "shop" else None,
                            driver_id=driver_id if role == "driver" else None, created_by=actor_id,
                            created_at=now, expires_at=now + timedelta(days=INVITATION_DAYS))
    session.add(invitation)
    session.flush()
    audit.record(session, at=now, actor=f"account:{actor_id}", channel="web", action="account.invited",
                 subject_type="invitation", subject_id=invitation.id, role=role)
    return NewInvitation(invitation, token)


def open_invitation(session: Session, token: str, *, now: datetime) -> Invitation:
    """The unused, unexpired invitation for this link; DomainError otherwise."""
    invitation = session.scalar(select(Invitation).where(Invitation.token_hash == _token_hash(token)))
    if invitation is None or invitation.used_at is not None or invitation.expires_at <= now:
        raise NotFound("bad_invitation", "この招待リンクは使えません（期限切れか、使用済みです）。管理者に連絡してください。")
    return invitation


def accept_invitation(session: Session, token: str, *, display_name: str, password: str,
                      now: datetime) -> Account:
    invitation = open_invitation(session, token, now=now)
    account = create_account(session, email=invitation.email, display_name=display_name, password=password,
                             role=invitation.role, shop_id=invitation.shop_id, driver_id=invitation.driver_id,
                             now=now, actor=f"invitation:{invitation.id}")
    invitation.used_at = now
    return account


# --- TOTP -----------------------------------------------------------------------------------------

def start_totp_enrolment(session: Session, account: Account) -> str:
    """The secret to show as a QR code; kept until a first code confirms it."""
    if account.totp_enabled:
        raise Conflict("totp_enrolled", "二段階認証はすでに設定されています。")
    if not account.totp_secret:
        account.totp_secret = pyotp.random_base32()
    return pyotp.TOTP(account.totp_secret).provisioning_uri(name=account.email, issuer_name=TOTP_ISSUER)


def verify_totp(session: Session, account: Account, code: str, *, now: datetime) -> bool:
    """Accept a 6-digit code of the current 30 s step or one either side (clock drift), once only."""
    code = "".join(ch for ch in code if ch.isdigit())
    if not account.totp_secret or len(code) != 6:
        return False
    totp = pyotp.TOTP(account.totp_secret)
    for offset in (-1, 0, 1):
        at = now + timedelta(seconds=30 * offset)
        step = totp.timecode(at)
        if step > account.totp_last_step and hmac.compare_digest(totp.at(at), code):
            account.totp_last_step = step
            return True
    return False


def confirm_totp(session: Session, account: Account, code: str, *, now: datetime) -> bool:
    if not verify_totp(session, account, code, now=now):
        return False
    account.totp_enabled = True
    audit.record(session, at=now, actor=f"account:{account.id}", channel="web", action="account.totp_enrolled",
                 subject_type="account", subject_id=account.id)
    return True
