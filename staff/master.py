"""Master data pages for staff (/staff/master/…): vehicles and drivers, shops and their products,
districts. Thin adapters: the rules and queries are in delivery/fleet.py, shops/master.py and
orders/districts.py; admin and coordinator change, read-only accounts only look."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from accounts.security import csrf_token, current_actor, staff_change_required, staff_required
from core.clock import JST, get_clock
from core.db import db
from core.errors import DomainError
from delivery import fleet
from orders import districts as district_master
from orders.district_windows import SERVICE_DAY_START, SERVICE_DAY_END, WindowRow, WindowsInvalid, rows_of
from residents.phones import national_format
from shops import master as shop_master

bp = Blueprint("master", __name__, url_prefix="/staff/master", template_folder="templates")

VEHICLE_FIELDS = ("name", "capacity_crates", "capacity_cold", "depot_lat", "depot_lon", "shift_start",
                  "shift_end", "break_start", "break_minutes", "active")
DRIVER_FIELDS = ("name", "kana", "phone", "vehicle_id", "active")
SHOP_FIELDS = ("name", "kana", "kind", "address", "lat", "lon", "phone", "pickup_open", "pickup_close", "active")
PRODUCT_FIELDS = ("name", "kana", "category", "unit", "price_yen", "stock", "available", "cold")
DISTRICT_FIELDS = ("code", "name", "kana", "delivery_weekdays", "cutoff_days_before", "cutoff_time",
                   "skip_public_holidays", "centre_lat", "centre_lon", "depot_name", "depot_lat", "depot_lon",
                   "fee_yen")
MAX_WINDOW_ROWS = 12     # rows read from one post: the windows allowed (6) and room for mistakes
WEEKDAYS = tuple(enumerate("月火水木金土日"))   # Python's weekday numbers, as District.delivery_weekdays


def _form_of(obj: Any, fields: tuple[str, ...]) -> dict[str, str]:
    """An object's fields as the strings the form shows (checkbox: "yes" or ""; a phone as dialled)."""
    values = {}
    for field in fields:
        value = getattr(obj, field)
        if field == "phone" and value:
            value = national_format(value)
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
        return render_template("staff/master/drivers.html", drivers=fleet.list_drivers(session),
                               national_format=national_format)


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


@bp.get("/shops")
@staff_required
def shops() -> str:
    with db.reading() as session:
        return render_template("staff/master/shops.html", shops=shop_master.list_shops(session),
                               national_format=national_format,
                               products=shop_master.product_counts(session),
                               owners=shop_master.line_owner_counts(session), kinds=shop_master.KIND_LABELS_JA)


@bp.route("/shops/new", methods=["GET", "POST"], defaults={"shop_id": None})
@bp.route("/shops/<int:shop_id>", methods=["GET", "POST"])
@staff_change_required
def shop(shop_id: int | None):  # type: ignore[no-untyped-def]
    error = None
    if request.method == "POST":
        form = _posted(SHOP_FIELDS)
        try:
            with db.transaction() as session:
                saved = shop_master.save_shop(session, shop_master.read_shop_form(form), shop_id=shop_id,
                                              actor=current_actor(), now=get_clock().now())
                name = saved.name
            flash(f"お店「{name}」を保存しました。")
            return redirect(url_for("master.shops"))
        except DomainError as failure:
            if failure.code == "unknown_shop":
                abort(404, description=failure.message)
            error = failure.message
    owners = 0
    with db.reading() as session:
        if shop_id is not None:
            try:
                existing = shop_master.get_shop(session, shop_id)
            except DomainError as failure:
                abort(404, description=failure.message)
            owners = shop_master.line_owner_counts(session).get(shop_id, 0)
            if request.method == "GET":
                form = _form_of(existing, SHOP_FIELDS)
        elif request.method == "GET":
            form = {"kind": "farm_stand", "pickup_open": "09:00", "pickup_close": "17:00", "active": "yes"}
    return render_template("staff/master/shop.html", form=form, shop_id=shop_id, error=error, owners=owners,
                           kinds=shop_master.KIND_LABELS_JA, csrf_token=csrf_token()), (400 if error else 200)


@bp.get("/shops/<int:shop_id>/products")
@staff_required
def products(shop_id: int) -> str:
    with db.reading() as session:
        try:
            found = shop_master.get_shop(session, shop_id)
        except DomainError as failure:
            abort(404, description=failure.message)
        return render_template("staff/master/products.html", shop=found,
                               products=found.products)


@bp.route("/shops/<int:shop_id>/products/new", methods=["GET", "POST"], defaults={"product_id": None})
@bp.route("/shops/<int:shop_id>/products/<int:product_id>", methods=["GET", "POST"])
@staff_change_required
def product(shop_id: int, product_id: int | None):  # type: ignore[no-untyped-def]
    error, status = None, 200
    if request.method == "POST":
        form = _posted(PRODUCT_FIELDS + ("expected_stock",))
        try:
            with db.transaction() as session:
                shop_master.get_shop(session, shop_id)
                values = shop_master.read_product_form(session, form, shop_id=shop_id, product_id=product_id)
                saved = shop_master.save_product(session, values, shop_id=shop_id, product_id=product_id,
                                                 expected_stock=shop_master.read_expected_stock(form),
                                                 actor=current_actor(), now=get_clock().now())
                name = saved.name
            flash(f"商品「{name}」を保存しました。")
            return redirect(url_for("master.products", shop_id=shop_id))
        except DomainError as failure:
            if failure.http_status == 404 or failure.code == "unknown_shop":
                abort(404, description=failure.message)
            error, status = failure.message, (409 if failure.http_status == 409 else 400)
    with db.reading() as session:
        try:
            shop_name = shop_master.get_shop(session, shop_id).name
            existing = None if product_id is None else \
                shop_master.get_product(session, shop_id=shop_id, product_id=product_id)
        except DomainError as failure:
            abort(404, description=failure.message)
        if existing is not None and (request.method == "GET" or status == 409):
            # After a stale stock (orders came in meanwhile) the page shows the stock as it is now.
            fresh = _form_of(existing, PRODUCT_FIELDS)
            form = fresh if request.method == "GET" else {**form, "stock": fresh["stock"]}
            form["expected_stock"] = fresh["stock"]
        elif request.method == "GET":
            form = {"available": "yes", "category": ""}
    return render_template("staff/master/product.html", form=form, shop_id=shop_id, shop_name=shop_name,
                           product_id=product_id, error=error, csrf_token=csrf_token()), status


@bp.get("/districts")
@staff_required
def districts() -> str:
    with db.reading() as session:
        return render_template("staff/master/districts.html", districts=district_master.list_districts(session),
                               weekdays=WEEKDAYS)


_WINDOW_FIELD = re.compile(r"windows-(\d{1,2})-(code|label|start|end|remove)")


def _posted_window_rows() -> list[WindowRow]:
    """The posted window rows (``windows-<n>-code`` …) in the page's order, as typed; blank rows dropped
    so that the row numbers in the messages are the rows shown again."""
    rows: dict[int, dict[str, Any]] = {}
    for key, value in request.form.items():
        if match := _WINDOW_FIELD.fullmatch(key):
            field = match.group(2)
            rows.setdefault(int(match.group(1)), {})[field] = value == "yes" if field == "remove" else value.strip()
    typed = [WindowRow(**rows[n]) for n in sorted(rows)]
    return [row for row in typed if not row.blank][:MAX_WINDOW_ROWS]


@bp.route("/districts/new", methods=["GET", "POST"], defaults={"district_id": None})
@bp.route("/districts/<int:district_id>", methods=["GET", "POST"])
@staff_change_required
def district(district_id: int | None):  # type: ignore[no-untyped-def]
    error, status, row_errors = None, 200, {}
    if request.method == "POST":
        form = _posted(DISTRICT_FIELDS)
        # The weekdays are one check box each; the model holds the ticked numbers as one string.
        form["delivery_weekdays"] = "".join(request.form.getlist("delivery_weekdays"))[:7]
        rows = _posted_window_rows()
        if request.form.get("add_window"):
            # 「時間帯の行を追加」 without JavaScript: the same form again with one blank row more, unsaved.
            return _district_page(form, rows, district_id, blank_rows=2), 200
        try:
            now = get_clock().now()
            with db.transaction() as session:
                saved = district_master.save_district(
                    session, district_master.read_district_form(form, rows), district_id=district_id,
                    actor=current_actor(), now=now, today=now.astimezone(JST).date())
                name = saved.name
            flash(f"地区「{name}」を保存しました。")
            return redirect(url_for("master.districts"))
        except DomainError as failure:
            if failure.code == "unknown_district":
                abort(404, description=failure.message)
            error, status = failure.message, (409 if failure.http_status == 409 else 400)
            row_errors = failure.rows if isinstance(failure, WindowsInvalid) else {}
    else:
        with db.reading() as session:
            if district_id is None:
                form = {"delivery_weekdays": "", "cutoff_days_before": "1", "cutoff_time": "17:00",
                        "skip_public_holidays": "yes", "fee_yen": "0"}
                rows = [WindowRow("am", "午前", "09:00", "12:00"), WindowRow("pm", "午後", "13:00", "17:00")]
            else:
                try:
                    existing = district_master.get_district(session, district_id)
                except DomainError as failure:
                    abort(404, description=failure.message)
                form = _form_of(existing, DISTRICT_FIELDS)
                rows = rows_of(existing.windows)
    return _district_page(form, rows, district_id, error=error, row_errors=row_errors), status


def _district_page(form: dict[str, str], rows: list[WindowRow], district_id: int | None, *, blank_rows: int = 1,
                   error: str | None = None, row_errors: dict[int, list[str]] | None = None) -> str:
    """The district form: the window rows as given plus blank ones to fill in (a row is added without
    JavaScript by filling a blank row, or with 「時間帯の行を追加」, which posts the form back unsaved)."""
    shown = rows + [WindowRow()] * max(0, min(blank_rows, MAX_WINDOW_ROWS - len(rows)))
    return render_template("staff/master/district.html", form=form, district_id=district_id, error=error,
                           rows=shown, row_errors=row_errors or {}, weekdays=WEEKDAYS, csrf_token=csrf_token(),
                           service_day=(SERVICE_DAY_START, SERVICE_DAY_END))
