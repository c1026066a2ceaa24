"""Districts: the town's delivery areas, each with its calendar, cutoff, windows, depot and fee.

Everything else (residents, orders, the calendar, the planner) builds on a district, so it sits below
them all and imports nothing of theirs.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base


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
