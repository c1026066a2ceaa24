"""One-time link codes: staff (or a resident) give a 6-digit code; whoever sends it to the LINE bot is
linked as that resident, a family member of that resident, a shop owner or a driver.

A code is redeemed by one guarded UPDATE (``... WHERE used_at IS NULL AND expires_at > now``): when two
people send the same code at once, the database lets exactly one of them change the row, whatever the
isolation level, and the other gets "already used". Everything else a redemption does happens in the
same transaction, so a failed link leaves the code unused.
"""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.clock import get_clock
from core.db import db
from delivery.models import Driver
from core import audit
from core.errors import DomainError, NotFound
from links.models import LinkCode
from residents.models import FamilyLink, Resident
from residents.phones import normalise_phone
from shops.models import Shop, ShopOwner

Purpose = Literal["resident", "family", "shop", "driver"]
PURPOSES: tuple[str, ...] = ("resident", "family", "shop", "driver")
DEFAULT_TTL = timedelta(days=7)
_MAX_TRIES = 20


class LinkError(DomainError):
    pass


@dataclass(frozen=True)
class LinkResult:
    purpose: str
    target_id: int
    already_linked: bool = False  # the same LINE account was already linked to this target


def _target_exists(session: Session, purpose: str, target_id: int) -> bool:
    model = {"resident": Resident, "family": Resident, "shop": Shop, "driver": Driver}[purpose]
    return session.get(model, target_id) is not None


def _new_code() -> str:
    # No leading zero: people reading a code aloud or typing it into a phone keypad tend to drop it.
    return str(100000 + secrets.randbelow(900000))


def issue_code(session: Session, *, purpose: Purpose | str, target_id: int, actor: str, now: datetime,
               ttl: timedelta = DEFAULT_TTL, channel: str = "staff") -> LinkCode:
    """Create a fresh code for ``purpose`` (for "family", ``target_id`` is the resident's id).

    Codes are unique across the table (the column is UNIQUE), so a code is never reused, not even after
    it expired. A concurrent issuer drawing the same number only costs this function another draw.
    """
    if purpose not in PURPOSES:
        raise ValueError(f"unknown link purpose {purpose!r}")
    if not _target_exists(session, purpose, target_id):
        raise NotFound("link_target_not_found", "対象が見つかりませんでした。")
    for _ in range(_MAX_TRIES):
        code = _new_code()
        if session.scalar(select(LinkCode.id).where(LinkCode.code == code)) is not None:
            continue
        link = LinkCode(code=code, purpose=purpose, target_id=target_id, created_by=actor,
                        created_at=now, expires_at=now + ttl)
        try:
            with session.begin_nested():
                session.add(link)
                session.flush()
        except IntegrityError:
            continue
        audit.record(session, at=now, actor=actor, channel=channel, action="link.issue",
                     subject_type=purpose, subject_id=target_id, link_code_id=link.id)
        return link
    raise RuntimeError("could not find a free link code")  # ~900,000 codes: only if nearly all are taken


def normalise_code(code: str) -> str:
    """A code as typed (full-width digits, spaces, dashes) reduced to the digits stored."""
    text = unicodedata.normalize("NFKC", code or "")
    return "".join(c for c in text if not c.isspace() and c not in "-ー‐")


CodeStep = Literal["unknown", "confirm_phone", "redeem"]


def next_step_for_code(session: Session, *, code: str, now: datetime) -> CodeStep:
    """What a code sent to the LINE bot needs before it links: "unknown" (no unused, unexpired code),
    "confirm_phone" (a resident registered by staff with a phone on file confirms that number first,
    so a code read over someone's shoulder is not enough) or "redeem" (``redeem_code`` may go ahead)."""
    link = session.scalars(select(LinkCode).where(LinkCode.code == normalise_code(code), LinkCode.used_at.is_(None),
                                                  LinkCode.expires_at > now)).one_or_none()
    if link is None:
        return "unknown"
    if link.purpose == "resident":
        resident = session.get(Resident, link.target_id)
        if resident is not None and (resident.phone or resident.mobile_phone):
            return "confirm_phone"
    return "redeem"


def phone_confirms_code(session: Session, *, code: str, phone: str) -> bool | None:
    """Whether ``phone`` is a number on file for the resident the code links; None when the code names
    no resident (start again from the code). A number that is not a phone number raises ``PhoneError``
    (checked after the code, so a stale code asks for the code again whatever was typed)."""
    link = session.scalars(select(LinkCode).where(LinkCode.code == code)).one_or_none()
    resident = session.get(Resident, link.target_id) if link is not None else None
    if resident is None:
        return None
    return normalise_phone(phone) in (resident.phone, resident.mobile_phone)


def redeem_code(session: Session, *, code: str, line_user_id: str, now: datetime,
                display_name: str = "") -> LinkResult:
    """Use a code from the LINE account ``line_user_id``. Raises ``LinkError`` for an unknown, used or
    expired code, or when the link itself is not allowed; then nothing is changed (the caller rolls back).
    """
    if not line_user_id:
        raise ValueError("line_user_id is required")
    text = normalise_code(code)
    if not (len(text) == 6 and text.isascii() and text.isdigit()):
        raise LinkError("link_code_format", "6けたの数字を送ってください。")
    link = session.scalars(select(LinkCode).where(LinkCode.code == text)).one_or_none()
    if link is None:
        raise LinkError("link_code_unknown", "その番号は見つかりませんでした。番号をお確かめください。")
    if link.used_at is not None:
        raise LinkError("link_code_used", "この番号は、すでに使われています。新しい番号をお受け取りください。")
    if link.expires_at <= now:
        raise LinkError("link_code_expired", "この番号は期限が切れています。新しい番号をお受け取りください。")

    # The guard is the whole point: the row is only ours if nobody used it in the meantime.
    claimed = session.execute(
        update(LinkCode)
        .where(LinkCode.id == link.id, LinkCode.used_at.is_(None), LinkCode.expires_at > now)
        .values(used_at=now, used_by=line_user_id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        raise LinkError("link_code_used", "この番号は、すでに使われています。新しい番号をお受け取りください。")

    already = _apply(session, link.purpose, link.target_id, line_user_id, display_name, now)
    audit.record(session, at=now, actor=f"line:{line_user_id}", channel="line", action="link.redeem",
                 subject_type=link.purpose, subject_id=link.target_id, link_code_id=link.id,
                 already_linked=already)
    session.expire(link, ["used_at", "used_by"])  # the UPDATE bypassed the identity map
    return LinkResult(purpose=link.purpose, target_id=link.target_id, already_linked=already)


def _apply(session: Session, purpose: str, target_id: int, line_user_id: str, display_name: str,
           now: datetime) -> bool:
    """Make the link; return True when it already existed."""
    name = (display_name or "").strip()[:64]
    if purpose in ("resident", "family"):
        resident = session.get(Resident, target_id)
        if resident is None or not resident.active:
            raise LinkError("link_target_inactive", "このご登録は現在お使いいただけません。担当者にお問い合わせください。")
        if purpose == "resident":
            if resident.line_user_id == line_user_id:
                return True
            other = session.scalars(select(Resident).where(Resident.line_user_id == line_user_id)).first()
            if other is not None:
                raise LinkError("line_already_registered", "このLINEアカウントは、すでに別の方で登録されています。")
            # A new code replaces an old account (a new phone): staff issued it on purpose.
            resident.line_user_id = line_user_id
            return False
        existing = session.scalars(select(FamilyLink).where(
            FamilyLink.resident_id == target_id, FamilyLink.line_user_id == line_user_id)).first()
        if existing is not None:
            return True
        session.add(FamilyLink(resident_id=target_id, line_user_id=line_user_id, name=name or "ご家族",
                               linked_at=now))
        session.flush()
        return False
    if purpose == "shop":
        existing_owner = session.scalars(select(ShopOwner).where(
            ShopOwner.shop_id == target_id, ShopOwner.line_user_id == line_user_id)).first()
        if existing_owner is not None:
            return True
        session.add(ShopOwner(shop_id=target_id, line_user_id=line_user_id, name=name))
        session.flush()
        return False
    if purpose == "driver":
        driver = session.get(Driver, target_id)
        if driver is None or not driver.active:
            raise LinkError("link_target_inactive", "このご登録は現在お使いいただけません。担当者にお問い合わせください。")
        if driver.line_user_id == line_user_id:
            return True
        other_driver = session.scalars(select(Driver).where(Driver.line_user_id == line_user_id)).first()
        if other_driver is not None:
            raise LinkError("line_already_registered", "このLINEアカウントは、すでに別の方で登録されています。")
        driver.line_user_id = line_user_id
        session.flush()
        return False
    raise LinkError("link_code_unknown", "その番号は見つかりませんでした。番号をお確かめください。")


@click.command("issue-link-code")
@click.argument("purpose", type=click.Choice(PURPOSES))
@click.argument("target_id", type=int)
@click.option("--days", default=7, show_default=True, help="How long the code stays valid.")
@with_appcontext
def issue_link_code_command(purpose: str, target_id: int, days: int) -> None:
    """Issue a one-time LINE link code (family: TARGET_ID is the resident)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    now = get_clock(app).now()
    try:
        with db.transaction(app) as session:
            link = issue_code(session, purpose=purpose, target_id=target_id, actor="staff:cli", now=now,
                              ttl=timedelta(days=days))
            code, expires = link.code, link.expires_at
    except DomainError as error:
        raise click.ClickException(error.message) from error
    click.echo(f"{code}  ({purpose} {target_id}, expires {expires.astimezone(now.tzinfo):%Y-%m-%d %H:%M})")
