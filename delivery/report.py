"""The staff's daily report (/staff/report): per delivery day, orders delivered and cancelled, sales per
shop, each run's planned km and hours, how many doors were served in the time residents were told, 不在,
and per driver the cash due against the cash recorded at the door.

Pure queries over the stored orders and the active plan of each day: nothing is changed, nothing sent.
The figures reuse the rules already used elsewhere rather than restating them: sales as the shops see
them (``orders.sales``), the cash of a door as the driver's sheet asks for it (``delivery.sheets``), the
window the resident was told (``delivery.notices.eta_window``), 不在 as the dashboard lists it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from core.clock import JST
from core.errors import DomainError
from core.inputs import parse_day
from delivery.models import Plan, Run, RunStop
from delivery.notices import eta_window, hhmm
from delivery.sheets import run_sheet
from delivery.stops import not_at_home_visits
from orders.models import Order, OrderStatus
from orders.sales import ShopDaySales, sales_by_shop

MAX_DAYS = 92          # a quarter: longer ranges are a job for an export of the database, not a page
DEFAULT_DAYS = 7


class ReportRangeError(DomainError):
    pass


@dataclass(frozen=True)
class RunFigures:
    run_id: int
    vehicle: str
    driver: str
    km: float
    hours: float        # planned, start to end (breaks included)


@dataclass(frozen=True)
class DriverCash:
    driver_id: int | None
    driver: str
    due_yen: int        # cash-paying orders handed over at the driver's delivered doors
    collected_yen: int  # what the driver typed in at those doors (集金額)
    unrecorded: int     # delivered doors with cash due where the driver typed no amount

    @property
    def difference_yen(self) -> int:
        return self.collected_yen - self.due_yen


@dataclass(frozen=True)
class DayReport:
    day: date
    delivered: int                  # orders
    cancelled: int                  # orders (取り消し and 受け取り拒否)
    sales: tuple[ShopDaySales, ...]
    runs: tuple[RunFigures, ...]
    doors_delivered: int            # delivery stops recorded 完了
    doors_on_time: int              # of those, recorded within the window the resident was told
    not_at_home: int                # door visits recorded 不在
    cash: tuple[DriverCash, ...]

    @property
    def sales_yen(self) -> int:
        return sum(s.yen for s in self.sales)

    @property
    def km(self) -> float:
        return round(sum(r.km for r in self.runs), 1)

    @property
    def hours(self) -> float:
        return round(sum(r.hours for r in self.runs), 1)

    @property
    def on_time_share(self) -> float | None:
        return self.doors_on_time / self.doors_delivered if self.doors_delivered else None


@dataclass(frozen=True)
class Report:
    first: date
    last: date
    days: tuple[DayReport, ...]     # oldest first, every day of the range (a day without orders is zeros)

    def total(self, field: str) -> int:
        return sum(getattr(day, field) for day in self.days)


def parse_range(first_text: str | None, last_text: str | None, today: date) -> tuple[date, date]:
    """The report's days from the page's ``from`` and ``to`` (YYYY-MM-DD): by default the last
    ``DEFAULT_DAYS`` days up to today; a bad date, ``from`` after ``to`` or more than ``MAX_DAYS`` days
    is refused with the reason in Japanese."""
    last = today if not last_text else parse_day(last_text)
    if last is None:
        raise ReportRangeError("bad_date", "終わりの日付は YYYY-MM-DD の形（2000〜2099年）で指定してください。")
    first = last - timedelta(days=DEFAULT_DAYS - 1) if not first_text else parse_day(first_text)
    if first is None:
        raise ReportRangeError("bad_date", "始めの日付は YYYY-MM-DD の形（2000〜2099年）で指定してください。")
    if first > last:
        raise ReportRangeError("reversed", "始めの日付が終わりの日付より後になっています。")
    if (last - first).days + 1 > MAX_DAYS:
        raise ReportRangeError("too_long", f"一度に表示できるのは{MAX_DAYS}日までです。期間を短くしてください。")
    return first, last


def daily_report(session: Session, *, first: date, last: date) -> Report:
    """The report of the delivery days ``first`` … ``last`` (inclusive). Read-only: call it in a reading
    session; it must not change or send anything."""
    counts = _order_counts(session, first, last)
    sales: dict[date, list[ShopDaySales]] = defaultdict(list)
    for line in sales_by_shop(session, start=first, end=last):
        sales[line.day].append(line)
    absent: dict[date, int] = defaultdict(int)
    for day, _ in not_at_home_visits(session, first=first, last=last):
        absent[day] += 1
    plans = {plan.delivery_date: plan for plan in session.scalars(
        select(Plan).where(Plan.delivery_date >= first, Plan.delivery_date <= last, Plan.active.is_(True))
        .options(selectinload(Plan.runs).selectinload(Run.stops), selectinload(Plan.runs).selectinload(Run.vehicle),
                 selectinload(Plan.runs).selectinload(Run.driver)))}
    days = []
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        runs = plans[day].runs if day in plans else []
        doors = [s for run in runs for s in run.stops if s.kind == "delivery" and s.status == "done"]
        days.append(DayReport(
            day=day, delivered=counts.get((day, OrderStatus.DELIVERED), 0),
            cancelled=counts.get((day, OrderStatus.CANCELLED), 0), sales=tuple(sales.get(day, ())),
            runs=tuple(_run_figures(run) for run in runs), doors_delivered=len(doors),
            doors_on_time=sum(1 for stop in doors if _on_time(stop)), not_at_home=absent.get(day, 0),
            cash=_cash(session, runs)))
    return Report(first=first, last=last, days=tuple(days))


def _order_counts(session: Session, first: date, last: date) -> dict[tuple[date, OrderStatus], int]:
    rows = session.execute(
        select(Order.delivery_date, Order.status, func.count(Order.id))
        .where(Order.delivery_date >= first, Order.delivery_date <= last,
               Order.status.in_((OrderStatus.DELIVERED, OrderStatus.CANCELLED)))
        .group_by(Order.delivery_date, Order.status))
    return {(day, status): int(count) for day, status, count in rows}


def _run_figures(run: Run) -> RunFigures:
    return RunFigures(run_id=run.id, vehicle=run.vehicle.name, driver=run.driver.name if run.driver else "（未定）",
                      km=round(run.distance_m / 1000, 1), hours=round(run.duration_s / 3600, 1))


def _on_time(stop: RunStop) -> bool:
    """Recorded 完了 within the window the resident was told with the plan (a little before to half an
    hour after the planned time, inside the window they chose)."""
    if stop.done_at is None or not stop.window_start or not stop.window_end:
        return False
    start, end = eta_window(stop.eta, stop)   # type: ignore[arg-type]  (a delivery stop has its window)
    return start <= hhmm(stop.done_at.astimezone(JST)) <= end


def _cash(session: Session, runs: list[Run]) -> tuple[DriverCash, ...]:
    """Per driver, the delivered doors' cash: due as the driver's sheet asks for it (each order's money
    once, at its last leg), against the 集金額 the driver recorded there."""
    totals: dict[int | None, list] = {}
    for run in runs:
        sheet = run_sheet(session, run.id)
        entry = totals.setdefault(run.driver_id, [sheet.driver, 0, 0, 0])
        for stop in sheet.stops:
            if stop.kind != "delivery" or stop.status != "done":
                continue
            entry[1] += stop.cash_due_yen
            entry[2] += stop.cash_collected_yen or 0
            entry[3] += 1 if stop.cash_due_yen and stop.cash_collected_yen is None else 0
    return tuple(DriverCash(driver_id, name, due, collected, unrecorded)
                 for driver_id, (name, due, collected, unrecorded) in totals.items())
