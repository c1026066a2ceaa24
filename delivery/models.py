"""Districts (with their delivery calendar), vehicles and drivers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from otodoke.db import Base


class District(Base):
    """A delivery district. Its calendar and cutoff are data, so a new town needs no code.

    ``delivery_weekdays`` holds Python weekday numbers (0 = Monday) as a string such as "01234".
    An order for delivery day D closes at ``cutoff_time`` on D minus ``cutoff_days_before`` days.
    ``windows`` lists the delivery windows, e.g. [{"code": "am", "label": "午前", "start": "09:00",
    "end": "12:00"}].
    """

    __tablename__ = "districts"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    kana: Mapped[str] = mapped_column(String(128))
    delivery_weekdays: Mapped[str] = mapped_column(String(7))
    cutoff_days_before: Mapped[int] = mapped_column(default=0)
    cutoff_time: Mapped[str] = mapped_column(String(5))  # "HH:MM", Asia/Tokyo
    skip_public_holidays: Mapped[bool] = mapped_column(default=True)
    windows: Mapped[list[Any]] = mapped_column()
    centre_lat: Mapped[float] = mapped_column()
    centre_lon: Mapped[float] = mapped_column()
    depot_name: Mapped[str] = mapped_column(String(128))
    depot_lat: Mapped[float] = mapped_column()
    depot_lon: Mapped[float] = mapped_column()
    fee_yen: Mapped[int] = mapped_column(default=0)

    __table_args__ = (
        CheckConstraint("cutoff_days_before >= 0", name="cutoff_days_nonneg"),
        CheckConstraint("fee_yen >= 0", name="fee_nonneg"),
    )


class Vehicle(Base):
    """A delivery vehicle with capacity in crates and cold-box slots, and a shift (HH:MM, Asia/Tokyo)."""

    __tablename__ = "vehicles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    capacity_crates: Mapped[int] = mapped_column()
    capacity_cold: Mapped[int] = mapped_column(default=0)
    depot_lat: Mapped[float] = mapped_column()
    depot_lon: Mapped[float] = mapped_column()
    shift_start: Mapped[str] = mapped_column(String(5), default="09:00")
    shift_end: Mapped[str] = mapped_column(String(5), default="17:00")
    break_start: Mapped[str | None] = mapped_column(String(5))
    break_minutes: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)


class Driver(Base):
    __tablename__ = "drivers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    kana: Mapped[str] = mapped_column(String(128))
    phone: Mapped[str | None] = mapped_column(String(32))
    line_user_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("vehicles.id"))
    active: Mapped[bool] = mapped_column(default=True)

    vehicle: Mapped[Vehicle | None] = relationship()
