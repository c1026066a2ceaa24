"""Master data for districts, as staff keep it (the pages in staff/master.py are thin adapters).

It lives beside the calendar rather than in places/ because a change is refused when it strands open
orders, and places/ sits below orders and imports nothing of theirs. Whether a day is a delivery day and
which windows a resident may choose are ``orders.calendar``'s answers, asked of the district as it is
and as it would be, so the refusal and the calendar can never disagree.
Services take a session and never commit; every change is audited in the caller's transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.errors import Conflict, DomainError
from core.form_fields import coordinate, text, time, whole
from orders.calendar import WEEKDAYS_JA, delivery_choices, is_delivery_day
from orders.district_windows import WindowRow, WindowsInvalid, check_window_rows, rows_of
from orders.models import OPEN_STATUSES, Order
from places.models import District

_CODE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")


@dataclass(frozen=True)
class DistrictValues:
    code: str
    name: str
    kana: str
    delivery_weekdays: str
    cutoff_days_before: int
    cutoff_time: str
    skip_public_holidays: bool
    windows: list[dict[str, str]]
    centre_lat: float
    centre_lon: float
    depot_name: str
    depot_lat: float
    depot_lon: float
    fee_yen: int


def read_district_form(form: Mapping[str, str], windows: Sequence[WindowRow]) -> DistrictValues:
    """The district form's fields and its window rows, checked; DomainError (Japanese) on the first bad
    field, or ``WindowsInvalid`` with every bad window row (``orders.district_windows``).
    ``delivery_weekdays`` is the ticked weekday numbers joined (0 = Monday), as the model holds them."""
    # The window rows are checked first and their problems kept, so that a bad field elsewhere does not
    # hide them: the coordinator then fixes every row in one go.
    try:
        checked_windows, bad_windows = check_window_rows(windows), None
    except WindowsInvalid as failure:
        checked_windows, bad_windows = [], failure
    try:
        values = _read_fields(form, checked_windows)
    except DomainError as failure:
        if bad_windows is None:
            raise
        raise WindowsInvalid(f"{failure.message}{bad_windows.message}", bad_windows.rows) from failure
    if bad_windows is not None:
        raise bad_windows
    return values


def _read_fields(form: Mapping[str, str], windows: list[dict[str, str]]) -> DistrictValues:
    code = text(form, "code", "地区の記号", 32)
    assert code is not None
    if not _CODE.fullmatch(code):
        raise DomainError("bad_code", "地区の記号は英小文字・数字・「-」「_」で入力してください（例: isazawa）。")
    name = text(form, "name", "地区の名前", 64)
    kana = text(form, "kana", "ふりがな", 128)
    depot_name = text(form, "depot_name", "出発地の名前", 128)
    assert name is not None and kana is not None and depot_name is not None
    ticked = form.get("delivery_weekdays") or ""
    if not set(ticked) <= set("0123456"):
        raise DomainError("bad_delivery_weekdays", "配達する曜日は一覧から選んでください。")
    weekdays = "".join(sorted(set(ticked)))
    if not weekdays:
        raise DomainError("bad_delivery_weekdays", "配達する曜日を1つ以上選んでください。")
    cutoff_time = time(form, "cutoff_time", "締め切りの時刻")
    assert cutoff_time is not None
    return DistrictValues(
        code=code, name=name, kana=kana, delivery_weekdays=weekdays,
        cutoff_days_before=whole(form, "cutoff_days_before", "締め切りの日（何日前）", 0, 14, default=0),
        cutoff_time=cutoff_time, skip_public_holidays=form.get("skip_public_holidays") == "yes",
        windows=windows,
        centre_lat=coordinate(form, "centre_lat", "地区の中心の緯度", -90.0, 90.0),
        centre_lon=coordinate(form, "centre_lon", "地区の中心の経度", -180.0, 180.0),
        depot_name=depot_name,
        depot_lat=coordinate(form, "depot_lat", "出発地の緯度", -90.0, 90.0),
        depot_lon=coordinate(form, "depot_lon", "出発地の経度", -180.0, 180.0),
        fee_yen=whole(form, "fee_yen", "配達料（円）", 0, 10_000, default=0))


def list_districts(session: Session) -> list[District]:
    return list(session.scalars(select(District).order_by(District.id)))


def get_district(session: Session, district_id: int) -> District:
    district = session.get(District, district_id)
    if district is None:
        raise DomainError("unknown_district", "その地区は見つかりませんでした。")
    return district


def _locked(session: Session, district_id: int) -> District:
    """The district under FOR UPDATE (PostgreSQL), taken before the stranded-orders check: an order
    being placed holds FOR KEY SHARE on it from reading the calendar to COMMIT (``orders.placing``), so
    the check runs only once those orders are visible, and no order reads the old calendar while this
    save is under way. On SQLite the whole save is one BEGIN IMMEDIATE writer already (``core/db.py``)."""
    district = session.scalars(select(District).where(District.id == district_id).with_for_update()
                               .execution_options(populate_existing=True)).one_or_none()
    if district is None:
        raise DomainError("unknown_district", "その地区は見つかりませんでした。")
    return district


def _deliverable(district: District, day: date, window_code: str) -> bool:
    return is_delivery_day(district, day) and any(w.code == window_code for w in delivery_choices(district))


def stranded_orders(session: Session, district: District, values: DistrictValues, *, today: date) -> list[Order]:
    """Open orders (受付中・確定) of the district, from ``today`` on, that its calendar delivers now and
    ``values`` would not: a weekday taken out, a window removed (or 「時間指定なし」, when only one window
    would be left), public holidays newly skipped. Today counts: its orders are still to be delivered.

    Checked in Python on purpose: the weekday of a date is not portable SQL, and a district has a few
    hundred open orders at most."""
    proposed = District(**values.__dict__)       # transient: never added to the session
    orders = session.scalars(select(Order).where(Order.district_id == district.id,
                                                 Order.status.in_(OPEN_STATUSES), Order.delivery_date >= today)
                             .order_by(Order.delivery_date, Order.id))
    return [order for order in orders if _deliverable(district, order.delivery_date, order.window_code)
            and not _deliverable(proposed, order.delivery_date, order.window_code)]


def _refusal(stranded: list[Order]) -> Conflict:
    days = sorted({WEEKDAYS_JA[o.delivery_date.weekday()] for o in stranded}, key=WEEKDAYS_JA.index)
    first = stranded[0].delivery_date
    return Conflict("open_orders", f"この変更では、受付中・確定済みの注文{len(stranded)}件（{first.month}月{first.day}日"
                                   f"から、{'・'.join(days)}曜日）が配達できなくなるため、保存していません。"
                                   "先にその注文を別の日に移すか取り消してから、もう一度保存してください。",
                    orders=len(stranded))


def save_district(session: Session, values: DistrictValues, *, district_id: int | None, actor: str,
                  now: datetime, today: date) -> District:
    """Add or change a district. A change that would leave open orders on a day or in a window the
    district no longer delivers is refused (``open_orders``, 409): those orders are moved or cancelled
    first, by a person who tells the residents. Districts are never deleted (residents belong to one).
    The windows are checked again here (``WindowsInvalid``), whoever built ``values``."""
    check_window_rows(rows_of(values.windows))
    taken = session.scalar(select(District.id).where(District.code == values.code))
    if taken is not None and taken != district_id:
        raise DomainError("code_taken", "その地区の記号はほかの地区で使われています。別の記号にしてください。")
    district = District() if district_id is None else _locked(session, district_id)
    if district_id is not None:
        stranded = stranded_orders(session, district, values, today=today)
        if stranded:
            raise _refusal(stranded)
    before = {} if district_id is None else {f: getattr(district, f) for f in DistrictValues.__dataclass_fields__}
    for field, value in values.__dict__.items():
        setattr(district, field, value)
    if district_id is None:
        session.add(district)
    session.flush()
    after = {f: getattr(district, f) for f in DistrictValues.__dataclass_fields__}
    audit.record(session, at=now, actor=actor, channel="web",
                 action="district.add" if district_id is None else "district.edit", subject_type="district",
                 subject_id=district.id, fields=sorted(k for k in after if before.get(k) != after[k]))
    return district
