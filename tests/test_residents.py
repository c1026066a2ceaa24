"""Residents service: phone normalisation, registration rules, lookups, updates, family access."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select

from core.clock import JST
from core.errors import DomainError
from core.models import AuditEntry
from residents.models import FamilyLink, Resident
from residents.phones import mask_phone, national_format
from residents.service import (deactivate_resident, find_by_line_user, find_by_phone, list_districts,
                               normalise_phone, register_resident, residents_by_phone,
                               residents_for_family, update_resident)
from tests.factories import make_district, make_outer_district, make_resident

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=JST)


@pytest.mark.parametrize("text, expected", [
    ("0238-84-1234", "+81238841234"),
    ("0238841234", "+81238841234"),
    ("(0238) 84-1234", "+81238841234"),
    ("０２３８－８４－１２３４", "+81238841234"),      # full-width digits and hyphens
    ("０２３８ー８４ー１２３４", "+81238841234"),      # katakana long-vowel mark used as a dash
    ("090-1234-5678", "+819012345678"),
    ("09012345678", "+819012345678"),
    ("090 1234 5678", "+819012345678"),
    ("+81 90-1234-5678", "+819012345678"),
    ("+81 (0)90 1234 5678", "+819012345678"),
    ("+81 090-1234-5678", "+819012345678"),
    ("+81238841234", "+81238841234"),               # Twilio caller ID
    ("81238841234", "+81238841234"),                # caller ID whose "+" was lost
    ("0081-90-1234-5678", "+819012345678"),
    ("050-1234-5678", "+815012345678"),
    ("0120-123-456", "+81120123456"),
    ("0800-123-4567", "+818001234567"),
    ("  070.1234.5678  ", "+817012345678"),
])
def test_normalise_phone_accepts_japanese_numbers(text: str, expected: str) -> None:
    assert normalise_phone(text) == expected


@pytest.mark.parametrize("text", [
    "", "   ", "abc", "84-1234",            # no area code
    "0238-84-123",                          # too short
    "090-1234-567",                         # mobile one digit short
    "0238-84-12345",                        # landline one digit long
    "090-1234-56789",
    "110", "119",
    "+1 415 555 0100",                      # another country
    "+44 20 7946 0958",
    "anonymous", "+266696687",              # Twilio's anonymous caller
    "00-1234-5678",
    "０９０－１２３４－５６７８９",
    "090-1234-567８a",
])
def test_normalise_phone_refuses_bad_input(text: str) -> None:
    with pytest.raises(DomainError) as info:
        normalise_phone(text)
    assert info.value.code == "bad_phone"
    assert "電話番号" in info.value.message


def test_phone_helpers() -> None:
    assert national_format("+81238841234") == "0238841234"
    assert mask_phone("+819012345678") == "********5678"
    assert mask_phone(None) == ""


def _register(session, district, **overrides):  # type: ignore[no-untyped-def]
    values = dict(name="長井 トシ", kana="ナガイ トシ", district_id=district.id, address="長井市本町1-2-3",
                  lat=38.108, lon=140.041, phone="0238-84-1111", consent=True, actor="staff:test",
                  channel="staff", now=NOW)
    values.update(overrides)
    return register_resident(session, **values)


def test_register_resident_normalises_and_audits(session) -> None:
    district = make_district(session)
    resident = _register(session, district, mobile_phone="０９０-１１１１-２２２２", line_user_id="Uabc")
    session.commit()
    assert resident.kana == "ながい とし"
    assert resident.phone == "+81238841111"
    assert resident.mobile_phone == "+819011112222"
    assert resident.consented_at == NOW and resident.created_at == NOW and resident.active
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "resident.register")).one()
    assert entry.subject_id == str(resident.id) and entry.channel == "staff"
    assert "長井" not in str(entry.data) and "0238" not in str(entry.data)  # ids only, no personal data


@pytest.mark.parametrize("overrides, code", [
    ({"name": "  "}, "name_required"),
    ({"kana": ""}, "kana_required"),
    ({"kana": "長井"}, "bad_kana"),
    ({"address": ""}, "address_required"),
    ({"district_id": 99999}, "unknown_district"),
    ({"lat": 51.5, "lon": -0.12}, "bad_location"),
    ({"lat": 38.1, "lon": None}, "bad_location"),
    ({"phone": "84-1111"}, "bad_phone"),
    ({"mobile_phone": "090-1"}, "bad_phone"),
    ({"payment_method": "card"}, "bad_payment_method"),
    ({"channel": "line", "consent": False, "line_user_id": "Unew"}, "consent_required"),
    ({"delivery_notes": "あ" * 513}, "notes_too_long"),
])
def test_register_resident_validation(session, overrides, code) -> None:  # type: ignore[no-untyped-def]
    district = make_district(session)
    session.commit()
    with pytest.raises(DomainError) as info:
        _register(session, district, **overrides)
    assert info.value.code == code
    assert info.value.message  # a Japanese sentence for the person
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Resident)) == 0


def test_staff_may_register_without_recorded_consent(session) -> None:
    resident = _register(session, make_district(session), consent=False)
    assert resident.consented_at is None


def test_duplicate_line_id_is_refused(session) -> None:
    district = make_district(session)
    _register(session, district, line_user_id="Udup", channel="line")
    with pytest.raises(DomainError) as info:
        _register(session, district, line_user_id="Udup", channel="line", phone=None)
    assert info.value.code == "line_already_registered"


def test_find_by_phone_and_line(session) -> None:
    district = make_district(session)
    alone = _register(session, district, phone="0238-84-2222", line_user_id="Ualone")
    wife = _register(session, district, name="長井 ハナ", kana="ながい はな", phone="0238-84-3333")
    husband = _register(session, district, name="長井 茂", kana="ながい しげる", phone="0238-84-3333",
                        mobile_phone="090-3333-4444")
    session.commit()
    assert find_by_phone(session, "+81238842222") is alone
    assert find_by_phone(session, "0238842222") is alone
    assert find_by_phone(session, "+819033334444") is husband          # mobile is personal
    assert find_by_phone(session, "0238-84-3333") is wife              # shared landline: earliest
    assert residents_by_phone(session, "0238-84-3333") == [wife, husband]
    assert find_by_phone(session, "anonymous") is None
    assert find_by_phone(session, "0238-84-9999") is None
    assert find_by_line_user(session, "Ualone") is alone
    assert find_by_line_user(session, "Unobody") is None
    deactivate_resident(session, resident_id=alone.id, actor="staff:test", channel="staff", now=NOW)
    assert find_by_phone(session, "+81238842222") is None
    assert find_by_line_user(session, "Ualone") is None


def test_update_resident_validates_and_audits_field_names(session) -> None:
    central = make_district(session)
    outer = make_outer_district(session)
    resident = _register(session, central)
    update_resident(session, resident_id=resident.id, actor="staff:test", channel="staff", now=NOW,
                    district_id=outer.id, phone="0238-88-1234", preferred_window="am",
                    delivery_notes=" 裏口へ ")
    assert (resident.district_id, resident.phone, resident.preferred_window, resident.delivery_notes) == (
        outer.id, "+81238881234", "am", "裏口へ")
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "resident.update")).one()
    assert entry.data["fields"] == ["delivery_notes", "district_id", "phone", "preferred_window"]
    with pytest.raises(DomainError) as info:
        update_resident(session, resident_id=resident.id, actor="staff:test", channel="staff", now=NOW,
                        preferred_window="night")
    assert info.value.code == "bad_window"
    with pytest.raises(DomainError):
        update_resident(session, resident_id=resident.id, actor="s", channel="staff", now=NOW, name="")
    with pytest.raises(TypeError):
        update_resident(session, resident_id=resident.id, actor="s", channel="staff", now=NOW, active=False)
    with pytest.raises(DomainError) as missing:
        update_resident(session, resident_id=424242, actor="s", channel="staff", now=NOW, name="x")
    assert missing.value.code == "resident_not_found"


def test_deactivate_is_idempotent(session) -> None:
    resident = make_resident(session)
    for _ in range(2):
        deactivate_resident(session, resident_id=resident.id, actor="staff:test", channel="staff", now=NOW)
    assert resident.active is False
    assert session.scalar(select(func.count()).select_from(AuditEntry)
                          .where(AuditEntry.action == "resident.deactivate")) == 1


def test_residents_for_family(session) -> None:
    district = make_district(session)
    mother, father, other = (make_resident(session, district) for _ in range(3))
    for resident in (father, mother):
        session.add(FamilyLink(resident_id=resident.id, line_user_id="Ufamily", name="長男", linked_at=NOW))
    session.add(FamilyLink(resident_id=other.id, line_user_id="Uneighbour", name="", linked_at=NOW))
    session.commit()
    assert residents_for_family(session, "Ufamily") == [mother, father]
    father.active = False
    assert residents_for_family(session, "Ufamily") == [mother]
    assert residents_for_family(session, "Ustranger") == []
    assert residents_for_family(session, None) == []


def test_list_districts_in_stable_order(session) -> None:
    first, second = make_district(session), make_outer_district(session)
    assert list_districts(session) == [first, second]
