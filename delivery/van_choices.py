"""Which van staff can put a door on by hand (「別の車両に移す」, 「この便の最後に追加」), and the idle van's run.

On a small day the solver may use one van for everything; the other vans of the active fleet then have
no run in the plan, yet a coordinator must still be able to move a door onto one of them (issue #10).
So the choices are the plan's runs *and* the active vehicles without a run, told apart in the form as
``run:<id>`` and ``vehicle:<id>``; choosing an idle van makes it an empty run (at its depot, from its
shift start, with its usual driver) in the same transaction as the door put on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased, selectinload

from core.clock import JST
from core.errors import DomainError, NotFound
from core.inputs import db_int
from delivery.models import Plan, Run, Vehicle
from delivery.planning import active_plan, new_run, usual_drivers


class ChoiceError(DomainError):
    pass


@dataclass(frozen=True)
class Target:
    """What the form chose: an existing run of the plan, or an active vehicle with none yet."""

    kind: Literal["run", "vehicle"]
    id: int


@dataclass(frozen=True)
class VanChoice:
    value: str                 # the form value, ``run:<id>`` or ``vehicle:<id>``
    vehicle_name: str
    driver_name: str | None
    run_id: int | None         # None: the van is idle (「空き」), choosing it makes its run


def parse_target(text: object) -> Target | None:
    """``run:<id>`` / ``vehicle:<id>`` from the form, else None (a bare number is refused: it cannot say which)."""
    if not isinstance(text, str) or ":" not in text:
        return None
    kind, _, number = text.partition(":")
    found = db_int(number)
    if kind not in ("run", "vehicle") or found is None:
        return None
    return Target(kind, found)  # type: ignore[arg-type]


def move_choices(session: Session, run_id: int) -> list[VanChoice]:
    """Where run ``run_id``'s door can go: the other runs of its plan, then the idle active vans (none when
    that plan is no longer the active one)."""
    this = aliased(Run)
    plan = session.scalars(select(Plan).join(this, this.plan_id == Plan.id)
                           .where(this.id == run_id, Plan.active.is_(True))).one_or_none()
    return _choices(session, plan, except_run_id=run_id) if plan is not None else []


def assign_choices(session: Session, plan: Plan) -> list[VanChoice]:
    """Where a left-out order can go: every run of the active ``plan``, then the idle active vans."""
    return _choices(session, plan, except_run_id=None) if plan.active else []


def _choices(session: Session, plan: Plan, *, except_run_id: int | None) -> list[VanChoice]:
    runs = session.scalars(select(Run).where(Run.plan_id == plan.id).order_by(Run.id)
                           .options(selectinload(Run.vehicle), selectinload(Run.driver))).all()
    out = [VanChoice(f"run:{r.id}", r.vehicle.name, r.driver.name if r.driver else None, r.id)
           for r in runs if r.id != except_run_id]
    busy = {r.vehicle_id for r in runs}
    drivers = usual_drivers(session)
    for vehicle in session.scalars(select(Vehicle).where(Vehicle.active.is_(True)).order_by(Vehicle.id)):
        if vehicle.id not in busy:
            driver = drivers.get(vehicle.id)
            out.append(VanChoice(f"vehicle:{vehicle.id}", vehicle.name, driver.name if driver else None, None))
    return out


def idle_vehicle(session: Session, target: Target, delivery_date: date) -> tuple[Plan, Vehicle]:
    """The day's active plan (locked, so two coordinators cannot both start a run for the van) and the
    chosen van, checked: active, and with no run in that plan yet. Writes nothing."""
    plan = active_plan(session, delivery_date)
    if plan is None:
        raise NotFound("no_plan", "この日の配達計画がありません（計画が新しくなっていれば、開き直してください）。")
    session.scalars(select(Plan.id).where(Plan.id == plan.id).with_for_update()).one()
    vehicle = session.get(Vehicle, target.id)
    if vehicle is None or not vehicle.active:
        raise ChoiceError("vehicle_off", "その車両は今は使えません。別の車両を選んでください。")
    if session.scalars(select(Run.id).where(Run.plan_id == plan.id, Run.vehicle_id == vehicle.id)).first():
        raise ChoiceError("vehicle_busy", "その車両にはもう便があります。ページを開き直して選んでください。")
    return plan, vehicle


def start_idle_run(session: Session, plan: Plan, vehicle: Vehicle) -> Run:
    """An empty run for ``vehicle`` in ``plan``: at its depot from its shift start, with its usual driver,
    built as a planned run is; the caller appends the door, and the driver hears of it through the
    outbox like any run (the messages before the change do not list it, so it goes out as new)."""
    start = datetime.combine(plan.delivery_date, time.fromisoformat(vehicle.shift_start), tzinfo=JST)
    run = new_run(vehicle.id, usual_drivers(session).get(vehicle.id), start_at=start, end_at=start)
    plan.runs.append(run)
    session.flush()
    return session.scalars(select(Run).where(Run.id == run.id)
                           .options(selectinload(Run.plan), selectinload(Run.stops), selectinload(Run.vehicle))).one()
