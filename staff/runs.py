"""Staff pages for a day's runs: the printable route sheet, the driver's run link as a QR code (and its
revocation), and a shop's picking list to print for a shop with no phone."""

from __future__ import annotations

import segno
from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from markupsafe import Markup

from accounts.security import audit_view, csrf_token, current_actor, staff_change_required, staff_required
from core.clock import get_clock
from core.db import db
from core.errors import NotFound
from core.inputs import parse_day
from delivery.runner import driver_link
from delivery.runs import get_run, revoke_run_link
from driver.views import sheet_or_404
from shop_portal.views import picking_page

bp = Blueprint("runs", __name__, url_prefix="/staff", template_folder="templates")


@bp.get("/runs/<int:run_id>/sheet")
@staff_required
def route_sheet(run_id: int) -> str:
    """A large-print route sheet to print and carry."""
    with db.reading() as session:
        sheet = sheet_or_404(session, run_id)
    audit_view("route_sheet", "run", run_id)   # names, addresses and phones of the run's residents
    return render_template("staff/route_sheet.html", sheet=sheet, map_svg=Markup(sheet.map_svg))


@bp.get("/runs/<int:run_id>/link")
@staff_required
def run_link(run_id: int) -> str:
    """The driver's run link as a large QR code, to show on a screen or print for a driver without LINE."""
    with db.reading() as session:
        sheet = sheet_or_404(session, run_id)
        run = get_run(session, run_id)
        # A superseded run gets no code: its page only points on, so staff are sent to the current one.
        url = driver_link(current_app, run) if sheet.plan_active else None  # type: ignore[arg-type]
    qr = Markup(segno.make(url, error="m").svg_inline(scale=8, border=4)) if url else None
    return render_template("staff/run_link.html", sheet=sheet, url=url, qr=qr, csrf_token=csrf_token())


@bp.post("/runs/<int:run_id>/revoke-link")
@staff_change_required
def revoke_link(run_id: int):  # type: ignore[no-untyped-def]
    """Staff revoke the run's driver link (a lost or shared phone): every link made before stops
    opening; the page then shows the new link's QR code to give the driver."""
    now = get_clock().now()
    try:
        with db.transaction() as session:
            revoke_run_link(session, run_id=run_id, actor=current_actor(), now=now)
    except NotFound as error:
        abort(404, description=error.message)
    flash("これまでのリンクを取り消しました。下の新しいリンク（QRコード）を配達員に渡してください。")
    return redirect(url_for("runs.run_link", run_id=run_id))


@bp.get("/picking/<day>/<int:shop_id>")
@staff_required
def staff_picking(day: str, shop_id: int) -> str:
    """The same page for staff to print, for a shop with no phone (or to read it out on the phone)."""
    when = parse_day(day)
    if when is None:
        abort(404, description="日付は YYYY-MM-DD の形で指定してください。")
    return picking_page(shop_id, when, staff=True)
