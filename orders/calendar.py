"""The delivery calendar: which day an order placed now is delivered on, and until when it can change.

Everything comes from the district's data (weekdays, cutoff rule, windows), so a new town or a changed
timetable needs no code. Public holidays come from the maintained ``holidays`` package.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

import holidays

from places.models import District
from orders.errors import OrderError
from core.clock import JST

SEARCH_DAYS = 60
WEEKDAYS_JA = "月火水木金土日"


@dataclass(frozen=True)
class Window:
    code: str
    label: str
    start: str  # "HH:MM", Asia/Tokyo
    end: str

    @property
    def text_ja(self) -> str:
        return f"{self.label} {self.start}〜{self.end}"


@dataclass(frozen=True)
class DeliverySlot:
    date: date
    cutoff_at: datetime   # aware, Asia/Tokyo
    windows: tuple[Window, ...]


@lru_cache(maxsize=32)
def _public_holidays(year: int) -> frozenset[date]:
    # A frozen per-year set: holidays.JP() fills itself lazily on lookup, which is not thread-safe.
    return frozenset(holidays.JP(years=year).keys())


def is_public_holiday(d: date) -> bool:
    return d in _public_holidays(d.year)


ANY_TIME = "any"


def windows_of(district: District) -> tuple[Window, ...]:
    """The district's own delivery windows (e.g. 午前 and 午後), as its data lists them."""
    return tuple(_window(w) for w in (district.windows or []))


def delivery_choices(district: District) -> tuple[Window, ...]:
    """What a resident may choose: the district's windows, plus 「時間指定なし」 when there are several.

    「時間指定なし」 spans the first window's start to the last one's end. It is the default for a
    resident with no stated preference: pinning them to the first window (as a default once did) put
    every such order in the morning, and a morning of far-off doors then did not fit the vans.
    """
    own = windows_of(district)
    if len(own) < 2:
        return own
    return own + (Window(code=ANY_TIME, label="時間指定なし", start=min(w.start for w in own),
                         end=max(w.end for w in own)),)


def _window(raw: dict[str, Any]) -> Window:
    return Window(code=str(raw["code"]), label=str(raw.get("label") or raw["code"]),
                  start=str(raw["start"]), end=str(raw["end"]))


def find_window(district: District, code: str | None) -> Window | None:
    for window in delivery_choices(district):
        if window.code == code:
            return window
    return None


def is_delivery_day(district: District, d: date) -> bool:
    if str(d.weekday()) not in (district.delivery_weekdays or ""):
        return False
    return not (district.skip_public_holidays and is_public_holiday(d))


def cutoff_for(district: District, d: date) -> datetime:
    """Orders for delivery day ``d`` close at ``cutoff_time`` on ``d - cutoff_days_before`` (JST)."""
    hours, minutes = (int(part) for part in district.cutoff_time.split(":"))
    day = d - timedelta(days=district.cutoff_days_before)
    return datetime.combine(day, time(hours, minutes), tzinfo=JST)


def next_delivery_slot(district: District, now: datetime) -> DeliverySlot:
    """The first delivery day whose cutoff is still ahead of ``now``."""
    now = now.astimezone(JST)
    today = now.date()
    for offset in range(SEARCH_DAYS + 1):
        d = today + timedelta(days=offset)
        if not is_delivery_day(district, d):
            continue
        cutoff = cutoff_for(district, d)
        if now < cutoff:
            return DeliverySlot(date=d, cutoff_at=cutoff, windows=windows_of(district))
    raise OrderError("no_delivery_day", district_id=district.id)


def format_date_ja(d: date) -> str:
    """「12月1日（火）」: how dates are written to residents."""
    return f"{d.month}月{d.day}日（{WEEKDAYS_JA[d.weekday()]}）"


def format_datetime_ja(moment: datetime) -> str:
    """「12月1日（火）10:00」 in Asia/Tokyo."""
    local = moment.astimezone(JST)
    return f"{format_date_ja(local.date())}{local:%H:%M}"
