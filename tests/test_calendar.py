"""The delivery calendar: next slot, cutoffs and holidays, with a frozen Asia/Tokyo "now"."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from orders.calendar import (cutoff_for, format_date_ja, is_delivery_day, is_public_holiday,
                             next_delivery_slot)
from orders.errors import OrderError
from core.clock import JST
from tests.factories import make_district, make_outer_district


def jst(*args: int) -> datetime:
    return datetime(*args, tzinfo=JST)


@pytest.fixture
def central(session):  # type: ignore[no-untyped-def]
    return make_district(session)   # Mon–Sat, cutoff 10:00 on the day


@pytest.fixture
def outer(session):  # type: ignore[no-untyped-def]
    return make_outer_district(session)   # Tue and Fri, cutoff 17:00 the day before


def test_central_one_minute_before_cutoff_is_today(central) -> None:  # type: ignore[no-untyped-def]
    slot = next_delivery_slot(central, jst(2026, 12, 1, 9, 59))
    assert slot.date == date(2026, 12, 1)
    assert slot.cutoff_at == jst(2026, 12, 1, 10, 0)
    assert [w.code for w in slot.windows] == ["pm"]


def test_central_at_and_after_cutoff_moves_to_next_day(central) -> None:  # type: ignore[no-untyped-def]
    assert next_delivery_slot(central, jst(2026, 12, 1, 10, 0)).date == date(2026, 12, 2)
    assert next_delivery_slot(central, jst(2026, 12, 1, 10, 1)).date == date(2026, 12, 2)


def test_now_in_another_time_zone_is_read_as_tokyo_time(central) -> None:  # type: ignore[no-untyped-def]
    # 00:30 UTC is 09:30 in Tokyo: still before the cutoff.
    from datetime import timezone
    slot = next_delivery_slot(central, datetime(2026, 12, 1, 0, 30, tzinfo=timezone.utc))
    assert slot.date == date(2026, 12, 1)


def test_sunday_has_no_delivery(central) -> None:  # type: ignore[no-untyped-def]
    # Saturday 2026-12-05 after cutoff: Sunday is skipped, Monday 12-07 is next.
    assert not is_delivery_day(central, date(2026, 12, 6))
    assert next_delivery_slot(central, jst(2026, 12, 5, 11, 0)).date == date(2026, 12, 7)
    # Ordering on the Sunday itself.
    assert next_delivery_slot(central, jst(2026, 12, 6, 8, 0)).date == date(2026, 12, 7)


def test_outer_district_cutoff_is_the_day_before(outer) -> None:  # type: ignore[no-untyped-def]
    # Friday 2026-12-04 delivery closes Thursday 12-03 at 17:00.
    assert cutoff_for(outer, date(2026, 12, 4)) == jst(2026, 12, 3, 17, 0)
    assert next_delivery_slot(outer, jst(2026, 12, 3, 16, 59)).date == date(2026, 12, 4)
    after = next_delivery_slot(outer, jst(2026, 12, 3, 17, 1))
    assert after.date == date(2026, 12, 8)  # the next Tuesday
    assert after.cutoff_at == jst(2026, 12, 7, 17, 0)
    # On the delivery day itself it is already closed.
    assert next_delivery_slot(outer, jst(2026, 12, 4, 6, 0)).date == date(2026, 12, 8)


def test_public_holidays_come_from_the_holidays_package(central) -> None:  # type: ignore[no-untyped-def]
    assert is_public_holiday(date(2026, 11, 23))      # 勤労感謝の日 (a Monday)
    assert is_public_holiday(date(2027, 1, 11))       # 成人の日
    assert not is_public_holiday(date(2026, 12, 23))  # no longer a holiday since 2019
    # Saturday 11-21 after cutoff: Sunday skipped, Monday 11-23 is a holiday → Tuesday 11-24.
    assert next_delivery_slot(central, jst(2026, 11, 21, 12, 0)).date == date(2026, 11, 24)
    assert is_delivery_day(central, date(2026, 12, 23))


def test_a_district_may_deliver_on_holidays(session) -> None:  # type: ignore[no-untyped-def]
    district = make_district(session, skip_public_holidays=False)
    assert next_delivery_slot(district, jst(2026, 11, 23, 8, 0)).date == date(2026, 11, 23)


def test_year_end_and_new_year(central, outer) -> None:  # type: ignore[no-untyped-def]
    # 12-31 (Thu) after cutoff: 1-1 is New Year's Day, 1-2 is a Saturday (central delivers).
    assert next_delivery_slot(central, jst(2026, 12, 31, 11, 0)).date == date(2027, 1, 2)
    # Outer: Friday 1-1 is a holiday, so after Tuesday 12-29 closes the next is Tuesday 1-5.
    assert next_delivery_slot(outer, jst(2026, 12, 28, 17, 30)).date == date(2027, 1, 5)
    # Holiday on the outer district's Monday before a Tuesday does not matter: cutoff is a time, not a day.
    assert next_delivery_slot(outer, jst(2027, 1, 11, 16, 0)).date == date(2027, 1, 12)


def test_no_delivery_day_within_sixty_days(session) -> None:  # type: ignore[no-untyped-def]
    district = make_district(session, delivery_weekdays="")
    with pytest.raises(OrderError) as caught:
        next_delivery_slot(district, jst(2026, 12, 1, 8, 0))
    assert caught.value.code == "no_delivery_day"
    assert "お届けできる日" in caught.value.message


def test_slot_is_found_when_only_a_far_day_remains(session) -> None:  # type: ignore[no-untyped-def]
    # Only Sundays, cutoff three days before: still well within the search horizon.
    district = make_district(session, delivery_weekdays="6", cutoff_days_before=3)
    now = jst(2026, 12, 3, 12, 0)   # Thursday, past the 12-06 cutoff (12-03 10:00)
    slot = next_delivery_slot(district, now)
    assert slot.date == date(2026, 12, 13)
    assert slot.cutoff_at == jst(2026, 12, 10, 10, 0)
    assert slot.date - now.date() < timedelta(days=61)


def test_dates_are_written_the_japanese_way() -> None:
    assert format_date_ja(date(2026, 12, 1)) == "12月1日（火）"
