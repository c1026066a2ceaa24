"""Residents (利用者) and the family members (家族) who may order for them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from places.models import District
from core.db import Base

PAYMENT_METHODS = ("cash", "local_currency")
PAYMENT_LABELS_JA = {"cash": "現金", "local_currency": "地域通貨"}


class Resident(Base):
    __tablename__ = "residents"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    kana: Mapped[str] = mapped_column(String(128))
    # Phone numbers are stored in E.164 (+81...) so caller ID matches whatever the caller dials from.
    phone: Mapped[str | None] = mapped_column(String(32), index=True)
    mobile_phone: Mapped[str | None] = mapped_column(String(32))
    line_user_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    address: Mapped[str] = mapped_column(String(256))
    lat: Mapped[float | None] = mapped_column()
    lon: Mapped[float | None] = mapped_column()
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    delivery_notes: Mapped[str] = mapped_column(String(512), default="")
    preferred_window: Mapped[str | None] = mapped_column(String(16))
    payment_method: Mapped[str] = mapped_column(String(16), default="cash")
    wants_eta_call: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    consented_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column()
    # Set when the personal fields were erased on request or by the retention sweep (residents/privacy.py).
    erased_at: Mapped[datetime | None] = mapped_column()

    district: Mapped[District] = relationship()
    family: Mapped[list["FamilyLink"]] = relationship(back_populates="resident")


class FamilyLink(Base):
    """A family member's LINE account linked to a resident with the resident's consent."""

    __tablename__ = "family_links"
    __table_args__ = (UniqueConstraint("resident_id", "line_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"), index=True)
    line_user_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(64))
    relation: Mapped[str] = mapped_column(String(32), default="")
    mobile_phone: Mapped[str | None] = mapped_column(String(32))
    notify: Mapped[bool] = mapped_column(default=True)
    linked_at: Mapped[datetime] = mapped_column()

    resident: Mapped[Resident] = relationship(back_populates="family")


class VoiceMessage(Base):
    """A recorded phone message (e.g. an unknown caller leaving name and address) for staff to act on."""

    __tablename__ = "voice_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    from_number: Mapped[str] = mapped_column(String(32))
    recording_url: Mapped[str | None] = mapped_column(String(512))
    recording_seconds: Mapped[int | None] = mapped_column()
    purpose: Mapped[str] = mapped_column(String(32), default="registration")
    created_at: Mapped[datetime] = mapped_column()
    handled_at: Mapped[datetime | None] = mapped_column()
    handled_by: Mapped[str | None] = mapped_column(String(64))
