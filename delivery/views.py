"""Drivers' run page (opened from the signed link they get by LINE or SMS), the printable route sheet,
the run link as a QR code for staff, and the picking-list page a shop opens from its SMS (or staff print)."""

from __future__ import annotations

from datetime import date

import segno
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from markupsafe import Markup
from sqlalchemy.orm import Session

from delivery import shop_links
from delivery.driver_links import driver_run
from delivery.models import Run
from delivery.picking import load_picking_lists
from delivery.runner import driver_link
from delivery.sheets import RunSheet, run_sheet
from orders.calendar import format_date_ja
from shops.models import Shop
from delivery.stops import record_stop_outcome
from otodoke import audit, get_clock
from otodoke.db import db
from otodoke.errors import DomainError, NotFound
from otodoke.inputs import parse_day
from accounts.security import (audit_view, csrf_token, current_actor, role_required, staff_change_required,
                               staff_required)

bp = Blueprint("delivery", __name__, template_folder="templates")


def _at(stop_id: int) -> str:
    # The page jumps to the stop after a tap, so its answer is shown there, not at the top of a long page.
    return f"stop-{stop_id}"


def _sheet(session: Session, run_id: int) -> RunSheet:
    try:
        return run_sheet(session, run_id)
    except NotFound as error:     # a run id that is not (or no longer) there: a page, not a 500
        abort(404, description=error.message)


@bp.get("/driver/run/<token>", endpoint="driver_run")
@driver_run
def driver_run_page(token: str, run_id: int) -> str:
    """The driver's phone page: stops in order with times, items, cash, notes, map links and buttons."""
    with db.reading() as session:
        sheet = _sheet(session, run_id)
        current = session.get(Run, sheet.current_run_id) if sheet.current_run_id else None
        # A superseded run's link is revoked: its page shows no stop (no names, addresses, phones), only
        # the way to the run that replaced it, or the coordinator's number.
        current_url = driver_link(current_app, current) if current else None  # type: ignore[arg-type]
    if not sheet.plan_active:
        return render_template("delivery/driver_run_replaced.html", title=sheet.title, current_url=current_url,
                               coordinator=current_app.config.get("COORDINATOR_PHONE", ""))
    return render_template("delivery/driver_run.html", sheet=sheet, token=token, current_url=current_url,
                           coordinator=current_app.config.get("COORDINATOR_PHONE", ""),
                           map_svg=Markup(sheet.map_svg), csrf_token=csrf_token())


@bp.post("/driver/run/<token>/stops/<int:stop_id>")
@driver_run
def driver_stop(token: str, run_id: int, stop_id: int):  # type: ignore[no-untyped-def]
    """Record 完了 / 不在 / 受け取り拒否 for one stop of the driver's own run."""
    cash_text = request.form.get("cash", "").strip()
    try:
        cash = int(cash_text.replace(",", "")) if cash_text else None
    except ValueError:
        flash("集金額は数字で入力してください。", _at(stop_id))
        return redirect(url_for("delivery.driver_run", token=token) + f"#stop-{stop_id}")
    try:
        with db.transaction() as session:
            run = session.get(Run, run_id)
            record_stop_outcome(session, stop_id=stop_id, outcome=request.form.get("outcome", ""),
                                actor=f"driver:{run.driver_id if run else '?'}", channel="web",
                                now=get_clock().now(), cash_yen=cash, run_id=run_id)
    except DomainError as error:
        # A stop that is not on this run's page has nowhere to show its answer but the top.
        flash(error.message, "message" if error.code == "unknown_stop" else _at(stop_id))
    else:
        flash("記録しました。", _at(stop_id))
    return redirect(url_for("delivery.driver_run", token=token) + f"#stop-{stop_id}")


@bp.get("/staff/runs/<int:run_id>/sheet")
@staff_required
def route_sheet(run_id: int) -> str:
    """A large-print route sheet to print and carry."""
    with db.reading() as session:
        sheet = _sheet(session, run_id)
    audit_view("route_sheet", "run", run_id)   # names, addresses and phones of the run's residents
    return render_template("delivery/route_sheet.html", sheet=sheet, map_svg=Markup(sheet.map_svg))


@bp.get("/staff/runs/<int:run_id>/link")
@staff_required
def run_link(run_id: int) -> str:
    """The driver's run link as a large QR code, to show on a screen or print for a driver without LINE."""
    with db.reading() as session:
        sheet = _sheet(session, run_id)
        run = session.get(Run, run_id)
        # A superseded run gets no code: its page only points on, so staff are sent to the current one.
        url = driver_link(current_app, run) if sheet.plan_active else None  # type: ignore[arg-type]
    qr = Markup(segno.make(url, error="m").svg_inline(scale=8, border=4)) if url else None
    return render_template("delivery/run_link.html", sheet=sheet, url=url, qr=qr, csrf_token=csrf_token())


@bp.post("/staff/runs/<int:run_id>/revoke-link")
@staff_change_required
def revoke_link(run_id: int):  # type: ignore[no-untyped-def]
    """Staff revoke the run's driver link (a lost or shared phone): every link made before stops
    opening; the page then shows the new link's QR code to give the driver."""
    now = get_clock().now()
    with db.transaction() as session:
        run = session.get(Run, run_id)
        if run is None:
            abort(404, description="その便は見つかりませんでした。")
        run.link_version = (run.link_version or 0) + 1
        audit.record(session, at=now, actor=current_actor(), channel="web", action="run.link_revoked",
                     subject_type="run", subject_id=run.id, link_version=run.link_version)
    flash("これまでのリンクを取り消しました。下の新しいリンク（QRコード）を配達員に渡してください。")
    return redirect(url_for("delivery.run_link", run_id=run_id))


def picking_page(shop_id: int, day: date, *, staff: bool) -> str:
    with db.reading() as session:
        shop = session.get(Shop, shop_id)
        if shop is None:
            abort(404, description="そのお店は見つかりませんでした。")
        plan, lists = load_picking_lists(session, day, shop_id=shop_id)
        return render_template("delivery/picking_list.html", shop_name=shop.name, day=format_date_ja(day),
                               picking=lists.get(shop_id), plan=plan, staff=staff,
                               coordinator=current_app.config.get("COORDINATOR_PHONE", ""),
                               expires=format_date_ja(shop_links.valid_through(day)))


@bp.get("/picking/<token>")
def shop_picking(token: str) -> str:
    """A shop's picking list for one day, from the signed link in its SMS: items and order numbers only."""
    link = shop_links.read_token(current_app.config["SECRET_KEY"], token, now=get_clock().now())
    if link is None:
        abort(404, description="このリンクは無効か、期限が切れています。担当者に連絡してください。")
    return picking_page(link.shop_id, link.delivery_date, staff=False)


@bp.get("/staff/picking/<day>/<int:shop_id>")
@staff_required
def staff_picking(day: str, shop_id: int) -> str:
    """The same page for staff to print, for a shop with no phone (or to read it out on the phone)."""
    when = parse_day(day)
    if when is None:
        abort(404, description="日付は YYYY-MM-DD の形で指定してください。")
    return picking_page(shop_id, when, staff=True)


@bp.get("/driver/")
@role_required("driver")
def driver_home() -> str:
    """A signed-in driver's runs for today and the next days (only their own), each opening the run page."""
    from datetime import timedelta

    from delivery.models import Plan
    from otodoke.clock import JST
    today = get_clock().now().astimezone(JST).date()
    with db.reading() as session:
        runs = list(session.scalars(select(Run).join(Plan).where(
            Run.driver_id == current_user.driver_id, Plan.active.is_(True),
            Plan.delivery_date >= today, Plan.delivery_date <= today + timedelta(days=2))
            .order_by(Plan.delivery_date, Run.start_at)))
        rows = [(format_date_ja(run.plan.delivery_date), run.vehicle.name, run.districts,
                 driver_link(current_app, run)) for run in runs]  # type: ignore[arg-type]
    return render_template("delivery/driver_home.html", rows=rows)
