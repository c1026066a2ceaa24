"""Master data pages for staff (/staff/master/…): vehicles and drivers. Thin adapters: the rules and
queries are in delivery/fleet.py; admin and coordinator change, read-only accounts only look."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from accounts.security import csrf_token, current_actor, staff_change_required, staff_required
from core.clock import get_clock
from core.db import db
from core.errors import DomainError
from delivery import fleet

bp = Blueprint("master", __name__, url_prefix="/staff/master", template_folder="templates")

VEHICLE_FIELDS = ("name", "capacity_crates", "capacity_cold", "depot_lat", "depot_lon", "shift_start",
                  "shift_end", "break_start", "break_minutes", "active")
DRIVER_FIELDS = ("name", "kana", "phone", "vehicle_id", "active")


def _form_of(obj: Any, fields: tuple[str, ...]) -> dict[str, str]:
    """An object's fields as the strings the form shows (checkbox: "yes" or "")."""
    values = {}
    for field in fields:
        value = getattr(obj, field)
        values[field] = ("yes" if value else "") if isinstance(value, bool) else "" if value is None else str(value)
    return values


def _posted(fields: tuple[str, ...]) -> dict[str, str]:
    return {field: (request.form.get(field) or "").strip() for field in fields}


@bp.get("/")
@staff_required
def index() -> str:
    return render_template("staff/master/index.html")


@bp.get("/vehicles")
@staff_required
def vehicles() -> str:
    with db.reading() as session:
        return render_template("staff/master/vehicles.html", vehicles=fleet.list_vehicles(session),
                               runs=fleet.vehicle_run_counts(session))


@bp.route("/vehicles/new", methods=["GET", "POST"], defaults={"vehicle_id": None})
@bp.route("/vehicles/<int:vehicle_id>", methods=["GET", "POST"])
@staff_change_required
def vehicle(vehicle_id: int | None):  # type: ignore[no-untyped-def]
    error = None
    if request.method == "POST":
        form = _posted(VEHICLE_FIELDS)
        try:
            with db.transaction() as session:
                saved = fleet.save_vehicle(session, fleet.read_vehicle_form(form), vehicle_id=vehicle_id,
                                           actor=current_actor(), now=get_clock().now())
                name = saved.name
            flash(f"車両「{name}」を保存しました。")
            return redirect(url_for("master.vehicles"))
        except DomainError as failure:
            if failure.code == "unknown_vehicle":
                abort(404, description=failure.message)
            error = failure.message
    else:
        with db.reading() as session:
            if vehicle_id is None:
                form = {"shift_start": "09:00", "shift_end": "17:00", "capacity_cold": "0",
                        "break_minutes": "0", "active": "yes"}
            else:
                try:
                    form = _form_of(fleet.get_vehicle(session, vehicle_id), VEHICLE_FIELDS)
                except DomainError as failure:
                    abort(404, description=failure.message)
    return render_template("staff/master/vehicle.html", form=form, vehicle_id=vehicle_id, error=error,
                           csrf_token=csrf_token()), (400 if error else 200)


@bp.get("/drivers")
@staff_required
def drivers() -> str:
    with db.reading() as session:
        return render_template("staff/master/drivers.html", drivers=fleet.list_drivers(session))


@bp.route("/drivers/new", methods=["GET", "POST"], defaults={"driver_id": None})
@bp.route("/drivers/<int:driver_id>", methods=["GET", "POST"])
@staff_change_required
def driver(driver_id: int | None):  # type: ignore[no-untyped-def]
    error = None
    linked = False
    if request.method == "POST":
        form = _posted(DRIVER_FIELDS)
        try:
            with db.transaction() as session:
                saved = fleet.save_driver(session, fleet.read_driver_form(session, form), driver_id=driver_id,
                                          actor=current_actor(), now=get_clock().now())
                name = saved.name
            flash(f"運転手「{name}」さんを保存しました。")
            return redirect(url_for("master.drivers"))
        except DomainError as failure:
            if failure.code == "unknown_driver":
                abort(404, description=failure.message)
            error = failure.message
    with db.reading() as session:
        if driver_id is not None:
            try:
                existing = fleet.get_driver(session, driver_id)
            except DomainError as failure:
                abort(404, description=failure.message)
            linked = existing.line_user_id is not None
            if request.method == "GET":
                form = _form_of(existing, DRIVER_FIELDS)
        elif request.method == "GET":
            form = {"active": "yes"}
        vehicles = [(v.id, v.name) for v in fleet.list_vehicles(session)]
    return render_template("staff/master/driver.html", form=form, driver_id=driver_id, error=error,
                           linked=linked, vehicles=vehicles, csrf_token=csrf_token()), (400 if error else 200)
