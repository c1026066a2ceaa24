"""Master data for the fleet: vehicles and drivers (the staff pages in staff/master.py are thin adapters).

Rules live here so every caller (pages, CLI, tests) gets the same Japanese messages. Services take a
session and never commit; every change is audited in the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Mapping

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import audit
from core.errors import DomainError
from core.form_fields import coordinate as _coordinate, minutes as _minutes
from core.form_fields import text as _text, time as _time, whole as _whole
from delivery.models import Driver, Run, Vehicle
from residents.phones import form_phone


@dataclass(frozen=True)
class VehicleValues:
    name: str
    capacity_crates: int
    capacity_cold: int
    depot_lat: float
    depot_lon: float
    shift_start: str
    shift_end: str
    break_start: str | None
    break_minutes: int
    active: bool


def read_vehicle_form(form: Mapping[str, str]) -> VehicleValues:
    """The vehicle form's fields, checked; DomainError (Japanese) on the first bad one."""
    name = _text(form, "name", "車両の名前", 64)
    assert name is not None
    shift_start = _time(form, "shift_start", "勤務の開始")
    shift_end = _time(form, "shift_end", "勤務の終了")
    assert shift_start is not None and shift_end is not None
    if _minutes(shift_start) >= _minutes(shift_end):
        raise DomainError("bad_shift", "勤務の終了は開始より後の時刻にしてください。")
    break_start = _time(form, "break_start", "休憩の開始", required=False)
    break_minutes = _whole(form, "break_minutes", "休憩の長さ（分）", 0, 180, default=0)
    if break_start is None and break_minutes:
        raise DomainError("bad_break", "休憩の長さを入れたときは、休憩の開始時刻も入力してください。")
    if break_start is not None:
        if not break_minutes:
            raise DomainError("bad_break", "休憩の開始時刻を入れたときは、休憩の長さ（分）も入力してください。")
        if _minutes(break_start) < _minutes(shift_start) or \
                _minutes(break_start) + break_minutes > _minutes(shift_end):
            raise DomainError("bad_break", "休憩は勤務時間の中に収まるようにしてください。")
    return VehicleValues(
        name=name,
        capacity_crates=_whole(form, "capacity_crates", "積める箱の数", 1, 500),
        capacity_cold=_whole(form, "capacity_cold", "保冷箱の数", 0, 500, default=0),
        depot_lat=_coordinate(form, "depot_lat", "車庫の緯度", -90.0, 90.0),
        depot_lon=_coordinate(form, "depot_lon", "車庫の経度", -180.0, 180.0),
        shift_start=shift_start, shift_end=shift_end, break_start=break_start, break_minutes=break_minutes,
        active=form.get("active") == "yes")


def list_vehicles(session: Session) -> list[Vehicle]:
    return list(session.scalars(select(Vehicle).order_by(Vehicle.active.desc(), Vehicle.id)))


def get_vehicle(session: Session, vehicle_id: int) -> Vehicle:
    vehicle = session.get(Vehicle, vehicle_id)
    if vehicle is None:
        raise DomainError("unknown_vehicle", "その車両は見つかりませんでした。")
    return vehicle


def save_vehicle(session: Session, values: VehicleValues, *, vehicle_id: int | None, actor: str,
                 now: datetime) -> Vehicle:
    """Add (``vehicle_id`` None) or change a vehicle. Vehicles are never deleted: runs refer to them, so
    taking one out of service is ``active = False`` (the planner only uses active vehicles)."""
    vehicle = Vehicle() if vehicle_id is None else get_vehicle(session, vehicle_id)
    before = {} if vehicle_id is None else _vehicle_snapshot(vehicle)
    for field, value in values.__dict__.items():
        setattr(vehicle, field, value)
    if vehicle_id is None:
        session.add(vehicle)
    session.flush()
    after = _vehicle_snapshot(vehicle)
    changed = sorted(k for k in after if before.get(k) != after[k])
    audit.record(session, at=now, actor=actor, channel="web",
                 action="vehicle.add" if vehicle_id is None else "vehicle.edit",
                 subject_type="vehicle", subject_id=vehicle.id, fields=changed)
    return vehicle


def _vehicle_snapshot(vehicle: Vehicle) -> dict[str, object]:
    return {f: getattr(vehicle, f) for f in VehicleValues.__dataclass_fields__}


def vehicle_run_counts(session: Session) -> dict[int, int]:
    """How many runs each vehicle has driven (shown so staff see why there is no delete)."""
    return dict(session.execute(select(Run.vehicle_id, func.count(Run.id)).group_by(Run.vehicle_id)).all())


@dataclass(frozen=True)
class DriverValues:
    name: str
    kana: str
    phone: str | None
    vehicle_id: int | None
    active: bool


def read_driver_form(session: Session, form: Mapping[str, str]) -> DriverValues:
    name = _text(form, "name", "運転手の名前", 64)
    kana = _text(form, "kana", "ふりがな", 128)
    assert name is not None and kana is not None
    phone = form_phone(form)
    vehicle_text = (form.get("vehicle_id") or "").strip()
    vehicle_id = None
    if vehicle_text:
        if not (vehicle_text.isascii() and vehicle_text.isdigit()) or len(vehicle_text) > 9 \
                or session.get(Vehicle, int(vehicle_text)) is None:
            raise DomainError("unknown_vehicle", "いつもの車両は一覧から選んでください。")
        vehicle_id = int(vehicle_text)
    return DriverValues(name=name, kana=kana, phone=phone, vehicle_id=vehicle_id, active=form.get("active") == "yes")


def list_drivers(session: Session) -> list[Driver]:
    return list(session.scalars(select(Driver).order_by(Driver.active.desc(), Driver.id)))


def get_driver(session: Session, driver_id: int) -> Driver:
    driver = session.get(Driver, driver_id)
    if driver is None:
        raise DomainError("unknown_driver", "その運転手は見つかりませんでした。")
    return driver


def save_driver(session: Session, values: DriverValues, *, driver_id: int | None, actor: str,
                now: datetime) -> Driver:
    """Add or change a driver. The LINE link (``line_user_id``) is set by the driver linking flow, not
    here: staff only see whether it is linked. Like vehicles, drivers are deactivated, never deleted."""
    driver = Driver() if driver_id is None else get_driver(session, driver_id)
    before = {} if driver_id is None else _driver_snapshot(driver)
    for field, value in values.__dict__.items():
        setattr(driver, field, value)
    if driver_id is None:
        session.add(driver)
    session.flush()
    after = _driver_snapshot(driver)
    # Field names only: name and phone are personal data and stay out of the audit row.
    changed = sorted(k for k in after if before.get(k) != after[k])
    audit.record(session, at=now, actor=actor, channel="web",
                 action="driver.add" if driver_id is None else "driver.edit",
                 subject_type="driver", subject_id=driver.id, fields=changed)
    return driver


def _driver_snapshot(driver: Driver) -> dict[str, object]:
    return {f: getattr(driver, f) for f in DriverValues.__dataclass_fields__}
