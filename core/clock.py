"""The one source of "now" (Asia/Tokyo, timezone-aware). Tests and demos inject a fixed clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

from flask import current_app

if TYPE_CHECKING:
    from flask import Flask

JST = ZoneInfo("Asia/Tokyo")
CLOCK_KEY = "core.clock"   # where create_app keeps the clock in app.extensions


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(JST)


@dataclass
class FixedClock:
    """A clock that stands still until moved; thread-safe enough for tests (plain attribute reads)."""

    current: datetime = field(default_factory=lambda: datetime.now(JST))

    def __post_init__(self) -> None:
        if self.current.tzinfo is None:
            self.current = self.current.replace(tzinfo=JST)

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current = self.current + delta

    def set(self, when: datetime) -> None:
        self.current = when if when.tzinfo else when.replace(tzinfo=JST)


def parse_jst(text: str) -> datetime:
    """Parse an ISO datetime; a naive one is taken as Asia/Tokyo."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=JST)


def get_clock(app: "Flask | None" = None) -> Clock:
    """The app's clock (a FixedClock in tests and the sandbox, the system clock otherwise)."""
    return (app or current_app).extensions[CLOCK_KEY]
