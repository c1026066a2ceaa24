"""Residents (利用者): registration, lookup by caller ID or LINE account, updates, family access.

Plain functions over a caller-owned session: they flush but never commit, and they raise
``ResidentError`` (a ``DomainError`` with a short Japanese message) before changing anything.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, or_, select
from sqlalchemy.orm import Session, contains_eager

from places.models import District
from core import audit
from core.errors import DomainError, NotFound
from residents.models import PAYMENT_METHODS, FamilyLink, Resident, VoiceMessage
from residents.phones import PhoneError, normalise_phone, try_normalise_phone

__all__ = [
    "PhoneError", "ResidentError", "deactivate_resident", "district_or_none",
    "family_link_id", "find_by_line_user", "find_by_phone", "get_resident", "list_districts", "normalise_kana", "normalise_phone",
    "register_resident", "residents_by_phone", "resident_with_district", "residents_for_family",
    "update_resident",
]

# Rough bounding box of Japan: a point outside it is a typing or a map-pin mistake.
_LAT_RANGE = (20.0, 46.0)
_LON_RANGE = (122.0, 154.0)
_KANA = re.compile(r"^[\u3041-\u3096\u30fc ]+$")  # hiragana, long vowel mark, spaces


class ResidentError(DomainError):
    pass


# ァ (U+30A1) … ヶ (U+30F6) → ぁ … ゖ: one table lookup per character (the resident search folds every name).
_KATAKANA_TO_HIRAGANA = {c: c - 0x60 for c in range(0x30A1, 0x30F7)}


def normalise_kana(text: str) -> str:
    """NFKC, katakana → hiragana, runs of spaces → one. Readings are compared and sorted in this form."""
    text = unicodedata.normalize("NFKC", text or "").strip()
    text = text.translate(_KATAKANA_TO_HIRAGANA)
    return re.sub(r"\s+", " ", text)


def _required(value: str | None, code: str, message: str, max_len: int) -> str:
    cleaned = unicodedata.normalize("NFKC", value or "").strip()
    if not cleaned:
        raise ResidentError(code, message)
    if len(cleaned) > max_len:
        raise ResidentError(f"{code.removesuffix('_required')}_too_long", "入力が長すぎます。短くしてください。")
    return cleaned


def _clean_name(name: str | None) -> str:
    return _required(name, "name_required", "お名前を教えてください。", 64)


def _clean_kana(kana: str | None) -> str:
    cleaned = normalise_kana(_required(kana, "kana_required", "お名前のふりがなを教えてください。", 128))
    if not _KANA.match(cleaned):
        raise ResidentError("bad_kana", "ふりがなは、ひらがなかカタカナでお願いします。")
    return cleaned


def _clean_address(address: str | None) -> str:
    return _required(address, "address_required", "ご住所を教えてください。", 256)


def _clean_location(lat: float | None, lon: float | None) -> tuple[float | None, float | None]:
    if lat is None and lon is None:
        return None, None  # phone-only residents: staff add the map position later
    if lat is None or lon is None or not (_LAT_RANGE[0] <= lat <= _LAT_RANGE[1]
                                          and _LON_RANGE[0] <= lon <= _LON_RANGE[1]):
        raise ResidentError("bad_location", "場所がうまく読み取れませんでした。もう一度、位置情報を送ってください。")
    return float(lat), float(lon)


def _clean_phone(value: str | None) -> str | None:
    if value is None or not str(value).strip():
        return None
    return normalise_phone(str(value))


def _clean_notes(notes: str | None) -> str:
    notes = (notes or "").strip()
    if len(notes) > 512:
        raise ResidentError("notes_too_long", "配達のメモが長すぎます。短くしてください。")
    return notes


def _check_district(session: Session, district_id: int) -> District:
    district = session.get(District, district_id) if district_id is not None else None
    if district is None:
        raise ResidentError("unknown_district", "地区が見つかりませんでした。もう一度お選びください。")
    return district


def _check_payment(method: str) -> str:
    if method not in PAYMENT_METHODS:
        raise ResidentError("bad_payment_method", "お支払い方法をもう一度お選びください。")
    return method


def _check_line_free(session: Session, line_user_id: str, resident_id: int | None = None) -> None:
    other = find_by_line_user(session, line_user_id, include_inactive=True)
    if other is not None and other.id != resident_id:
        raise ResidentError("line_already_registered",
                            "このLINEアカウントは、すでに登録されています。")


def register_resident(session: Session, *, name: str, kana: str, district_id: int, address: str,
                      lat: float | None, lon: float | None, phone: str | None = None,
                      mobile_phone: str | None = None, line_user_id: str | None = None,
                      delivery_notes: str = "", payment_method: str = "cash", consent: bool,
                      actor: str, channel: str, now: datetime) -> Resident:
    """Register a resident (LINE self-registration, or staff entering a phone-only resident).

    Self-registration over LINE needs the resident's consent; staff record paper consent the same way.
    Validates everything before adding the row; never commits.
    """
    name, kana, address = _clean_name(name), _clean_kana(kana), _clean_address(address)
    _check_district(session, district_id)
    lat, lon = _clean_location(lat, lon)
    phone, mobile_phone = _clean_phone(phone), _clean_phone(mobile_phone)
    _check_payment(payment_method)
    delivery_notes = _clean_notes(delivery_notes)
    if channel == "line" and not consent:
        raise ResidentError("consent_required",
                            "ご登録には、個人情報の取り扱いへの同意が必要です。")
    if line_user_id:
        _check_line_free(session, line_user_id)
    resident = Resident(name=name, kana=kana, district_id=district_id, address=address, lat=lat, lon=lon,
                        phone=phone, mobile_phone=mobile_phone, line_user_id=line_user_id or None,
                        delivery_notes=delivery_notes, payment_method=payment_method, active=True,
                        consented_at=now if consent else None, created_at=now)
    session.add(resident)
    session.flush()
    audit.record(session, at=now, actor=actor, channel=channel, action="resident.register",
                 subject_type="resident", subject_id=resident.id, district_id=district_id,
                 with_line=bool(line_user_id), consent=bool(consent))
    return resident


def resident_or_none(session: Session, resident_id: int) -> Resident | None:
    """The resident with this id, or None (an id from a call's state may be stale)."""
    return session.get(Resident, resident_id)


def voice_message_for_call(session: Session, *, call_sid: str, from_number: str, purpose: str,
                           now: datetime) -> VoiceMessage:
    """The voice message of this call, added when it has none yet (Twilio may post a recording twice)."""
    existing = session.scalars(select(VoiceMessage).where(VoiceMessage.call_sid == call_sid)).one_or_none()
    if existing is None:
        existing = VoiceMessage(call_sid=call_sid, from_number=from_number, purpose=purpose, created_at=now)
        session.add(existing)
    return existing


def get_resident(session: Session, resident_id: int) -> Resident:
    resident = session.get(Resident, resident_id)
    if resident is None:
        raise NotFound("resident_not_found", "ご登録が見つかりませんでした。")
    return resident


def residents_by_phone(session: Session, phone: str | None) -> list[Resident]:
    """Active residents whose phone or mobile phone is this number (a shared landline gives several)."""
    number = try_normalise_phone(phone)
    if number is None:
        return []
    return list(session.scalars(
        select(Resident)
        .where(Resident.active.is_(True), or_(Resident.phone == number, Resident.mobile_phone == number))
        .order_by(Resident.id)
    ))


SEARCH_LIMIT = 30


def search_residents(session: Session, text: str | None, *, limit: int = SEARCH_LIMIT) -> list[Resident]:
    """Active residents whose name, reading (kana) or phone number matches what the coordinator typed.

    Matched in Python, like product search: kana folding and NFKC are not portable across SQLite and
    PostgreSQL, and a town has a few thousand residents at most. Digits alone are read as a phone
    number (any part of it, hyphens ignored), so 「1234」 finds 0238-00-1234.
    """
    raw = unicodedata.normalize("NFKC", text or "").strip()
    if not raw:
        return []
    needle = normalise_kana(raw).replace(" ", "").lower()
    digits = re.sub(r"[^0-9]", "", raw) if re.fullmatch(r"[0-9+\-() ]+", raw) else ""
    # Only the matched columns are read for the scan (plain rows, no ORM objects: building one Resident
    # per active resident cost most of the page's CPU); the few hits are then loaded whole.
    found: list[int] = []
    rows = session.execute(select(Resident.id, Resident.name, Resident.kana, Resident.phone, Resident.mobile_phone)
                           .where(Resident.active.is_(True)).order_by(Resident.kana, Resident.id))
    for resident_id, name, kana, phone, mobile_phone in rows:
        if digits:
            numbers = [re.sub(r"[^0-9]", "", n or "") for n in (phone, mobile_phone)]
            # Stored in E.164 (+81…): also match the national form the caller says (0238…).
            hit = any(digits in n or (n.startswith("81") and digits in "0" + n[2:]) for n in numbers if n)
        else:
            hit = (needle in normalise_kana(name).replace(" ", "").lower()
                   or needle in normalise_kana(kana).replace(" ", "").lower())
        if hit:
            found.append(resident_id)
            if len(found) >= limit:
                break
    rows.close()
    if not found:
        return []
    by_id = {r.id: r for r in session.scalars(select(Resident).where(Resident.id.in_(found)))}
    return [by_id[i] for i in found]


def find_by_phone(session: Session, phone: str | None) -> Resident | None:
    """Caller ID lookup. A mobile number is personal, so it wins over a shared landline; among several
    residents on one landline the earliest registered is returned (``residents_by_phone`` lists all).
    Anonymous or malformed caller IDs give None rather than an error: the caller is simply unknown."""
    matches = residents_by_phone(session, phone)
    if not matches:
        return None
    number = try_normalise_phone(phone)
    personal = [r for r in matches if r.mobile_phone == number]
    return (personal or matches)[0]


def find_by_line_user(session: Session, line_user_id: str | None, *,
                      include_inactive: bool = False) -> Resident | None:
    """The resident who registered this LINE account themselves (not family members)."""
    if not line_user_id:
        return None
    query = select(Resident).where(Resident.line_user_id == line_user_id)
    if not include_inactive:
        query = query.where(Resident.active.is_(True))
    return session.scalars(query).one_or_none()


_UPDATABLE = {"name", "kana", "address", "lat", "lon", "phone", "mobile_phone", "district_id",
              "delivery_notes", "payment_method", "preferred_window", "wants_eta_call", "line_user_id"}


def update_resident(session: Session, *, resident_id: int, actor: str, channel: str, now: datetime,
                    **changes: Any) -> Resident:
    """Change some of a resident's details with the same validation as registration.

    Only the fields in ``_UPDATABLE`` may be passed (anything else is a programming error). The audit
    entry lists the names of the changed fields, never their values.
    """
    unknown = set(changes) - _UPDATABLE
    if unknown:
        raise TypeError(f"update_resident() cannot change {sorted(unknown)}")
    resident = get_resident(session, resident_id)
    clean: dict[str, Any] = {}
    for key, value in changes.items():
        if key == "name":
            clean[key] = _clean_name(value)
        elif key == "kana":
            clean[key] = _clean_kana(value)
        elif key == "address":
            clean[key] = _clean_address(value)
        elif key in ("phone", "mobile_phone"):
            clean[key] = _clean_phone(value)
        elif key == "district_id":
            clean[key] = _check_district(session, value).id
        elif key == "payment_method":
            clean[key] = _check_payment(value)
        elif key == "delivery_notes":
            clean[key] = _clean_notes(value)
        elif key == "line_user_id":
            if value:
                _check_line_free(session, value, resident.id)
            clean[key] = value or None
        else:
            clean[key] = value
    if "lat" in clean or "lon" in clean:
        clean["lat"], clean["lon"] = _clean_location(clean.get("lat", resident.lat),
                                                     clean.get("lon", resident.lon))
    if "preferred_window" in clean and clean["preferred_window"] is not None:
        codes = {w.get("code") for w in _check_district(
            session, clean.get("district_id", resident.district_id)).windows}
        if clean["preferred_window"] not in codes:
            raise ResidentError("bad_window", "お届けの時間帯をもう一度お選びください。")
    changed = sorted(k for k, v in clean.items() if getattr(resident, k) != v)
    for key in changed:
        setattr(resident, key, clean[key])
    session.flush()
    if changed:
        audit.record(session, at=now, actor=actor, channel=channel, action="resident.update",
                     subject_type="resident", subject_id=resident.id, fields=changed)
    return resident


def deactivate_resident(session: Session, *, resident_id: int, actor: str, channel: str, now: datetime,
                        reason: str = "") -> Resident:
    """Stop service for a resident (moved, in care, passed away). Idempotent; keeps their history.

    Does not touch open orders: cancelling them (and restocking) is the orders service's job.
    """
    resident = get_resident(session, resident_id)
    if resident.active:
        resident.active = False
        session.flush()
        audit.record(session, at=now, actor=actor, channel=channel, action="resident.deactivate",
                     subject_type="resident", subject_id=resident.id, reason=reason[:64])
    return resident


def residents_for_family(session: Session, line_user_id: str | None) -> list[Resident]:
    """The active residents a family LINE account is linked to, and so may order for."""
    if not line_user_id:
        return []
    return list(session.scalars(
        select(Resident)
        .join(FamilyLink, FamilyLink.resident_id == Resident.id)
        .where(FamilyLink.line_user_id == line_user_id, Resident.active.is_(True))
        .order_by(Resident.id)
    ))


def family_link_id(session: Session, *, resident_id: int, line_user_id: str) -> int | None:
    """The id of the family link between this LINE account and this resident (recorded in the actor
    string of what the family member does), or None when they are not linked."""
    return session.scalars(select(FamilyLink.id).where(FamilyLink.resident_id == resident_id,
                                                       FamilyLink.line_user_id == line_user_id)).first()


@functools.cache
def _with_district_query() -> Select[tuple[Resident]]:
    return (select(Resident).join(Resident.district).options(contains_eager(Resident.district))
            .where(Resident.id == bindparam("resident_id")))


def resident_with_district(session: Session, resident_id: int | None) -> Resident | None:
    """The resident with their district, in one prebuilt query (``Session.get`` with a joinedload
    option cost twice as much on the LINE quote path), or None. A caller that quotes next should keep
    the reference until it is done: the session's identity map holds objects weakly, and a dropped
    resident costs two more queries (resident, then district) when the quote asks for them."""
    if resident_id is None:
        return None
    return session.scalars(_with_district_query(), {"resident_id": resident_id}).first()


def list_districts(session: Session) -> list[District]:
    """All districts in a stable order (registration menus, staff pages)."""
    return list(session.scalars(select(District).order_by(District.id)))


def district_or_none(session: Session, district_id: int) -> District | None:
    """The district with this id, or None (a registration summary shows an unknown one as blank)."""
    return session.get(District, district_id)


CALLBACK_PURPOSE = "line_callback"


def request_callback(session: Session, *, phone: str, line_user_id: str, key: str, now: datetime) -> VoiceMessage:
    """Someone not registered yet asks on LINE to be phoned by the office: a row on the staff's
    messages page (``/voice/messages``), next to the registration voicemails, with no recording.

    ``key`` (the LINE event id) makes a redelivered event a no-op; a second request from the same
    number while the first is still open returns that one rather than listing the caller twice."""
    number = normalise_phone(phone)
    sid = f"line-{key}"[:64]
    existing = session.scalars(select(VoiceMessage).where(
        or_(VoiceMessage.call_sid == sid,
            (VoiceMessage.from_number == number) & (VoiceMessage.purpose == CALLBACK_PURPOSE)
            & VoiceMessage.handled_at.is_(None)))).first()
    if existing is not None:
        return existing
    message = VoiceMessage(call_sid=sid, from_number=number, purpose=CALLBACK_PURPOSE, created_at=now)
    session.add(message)
    session.flush()
    audit.record(session, at=now, actor="guest:line", channel="line", action="resident.callback_request",
                 subject_type="voice_message", subject_id=message.id)
    return message
