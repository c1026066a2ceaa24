"""The drivers' pages: the run page opened from the signed link they get by LINE or SMS (a stop's
完了 / 不在 / 受け取り拒否 is recorded there), and a signed-in driver's list of their own runs."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy.orm import Session
from werkzeug.exceptions import NotFound as PageNotFound

from accounts.security import csrf_token, role_required
from core.clock import JST, get_clock
from core.db import db
from core.errors import DomainError, NotFound
from delivery.driver_links import REVOKED, RunGone, driver_run
from delivery.runner import driver_link
from delivery.runs import driver_runs, get_run, removed_run
from delivery.sheets import RunSheet, run_sheet
from delivery.stops import record_stop_outcome
from orders.calendar import format_date_ja

bp = Blueprint("driver", __name__, template_folder="templates")


def _at(stop_id: int) -> str:
    # The page jumps to the stop after a tap, so its answer is shown there, not at the top of a long page.
    return f"stop-{stop_id}"


def sheet_or_404(session: Session, run_id: int) -> RunSheet:
    try:
        return run_sheet(session, run_id)
    except NotFound as error:     # a run id that is not (or no longer) there: a page, not a 500
        abort(404, description=error.message)


@bp.errorhandler(RunGone)
def run_gone(error: RunGone):  # type: ignore[no-untyped-def]
    """The link's run is not there (deleted, or its id reused on SQLite for another run, which the link
    never opens). A run deleted by a hand move: say so in words, with the way to the driver's run now,
    never a bare 404; a link the staff had revoked before, or a run that never was: the 404."""
    # returned, not raised: an error handler's own abort() would end as a 500
    link = error.link
    if request.method != "GET":      # a tap on a stop of a run that is gone: nothing to record
        return PageNotFound(description="この便はなくなりました。担当者に連絡してください。")
    with db.reading() as session:
        gone = removed_run(session, link.run_id, link.key)
        if gone is None:
            return PageNotFound(description="そのルートは見つかりませんでした。")
        if link.version != gone.link_version:
            return PageNotFound(description=REVOKED)
        current_url = driver_link(current_app, gone.current) if gone.current else None  # type: ignore[arg-type]
        return render_template("driver/run_removed.html", title=f"{format_date_ja(gone.delivery_date)} "
                               f"{gone.vehicle_name}", current_url=current_url,
                               coordinator=current_app.config.get("COORDINATOR_PHONE", ""))


@bp.get("/driver/run/<token>", endpoint="run")
@driver_run
def driver_run_page(token: str, run_id: int) -> str:
    """The driver's phone page: stops in order with times, items, cash, notes, map links and buttons."""
    with db.reading() as session:
        sheet = sheet_or_404(session, run_id)
        current = get_run(session, sheet.current_run_id) if sheet.current_run_id else None
        # A superseded run's link is revoked: its page shows no stop (no names, addresses, phones), only
        # the way to the run that replaced it, or the coordinator's number.
        current_url = driver_link(current_app, current) if current else None  # type: ignore[arg-type]
    if not sheet.plan_active:
        return render_template("driver/run_replaced.html", title=sheet.title, current_url=current_url,
                               coordinator=current_app.config.get("COORDINATOR_PHONE", ""))
    return render_template("driver/run.html", sheet=sheet, token=token, current_url=current_url,
                           coordinator=current_app.config.get("COORDINATOR_PHONE", ""),
                           map_svg=Markup(sheet.map_svg), csrf_token=csrf_token())


@bp.post("/driver/run/<token>/stops/<int:stop_id>", endpoint="stop")
@driver_run
def driver_stop(token: str, run_id: int, stop_id: int):  # type: ignore[no-untyped-def]
    """Record 完了 / 不在 / 受け取り拒否 for one stop of the driver's own run."""
    cash_text = request.form.get("cash", "").strip()
    try:
        cash = int(cash_text.replace(",", "")) if cash_text else None
    except ValueError:
        flash("集金額は数字で入力してください。", _at(stop_id))
        return redirect(url_for("driver.run", token=token) + f"#stop-{stop_id}")
    try:
        with db.transaction() as session:
            run = get_run(session, run_id)
            record_stop_outcome(session, stop_id=stop_id, outcome=request.form.get("outcome", ""),
                                actor=f"driver:{run.driver_id if run else '?'}", channel="web",
                                now=get_clock().now(), cash_yen=cash, run_id=run_id)
    except DomainError as error:
        # A stop that is not on this run's page has nowhere to show its answer but the top.
        flash(error.message, "message" if error.code == "unknown_stop" else _at(stop_id))
    else:
        flash("記録しました。", _at(stop_id))
    return redirect(url_for("driver.run", token=token) + f"#stop-{stop_id}")


@bp.get("/driver/", endpoint="home")
@role_required("driver")
def driver_home() -> str:
    """A signed-in driver's runs for today and the next days (only their own), each opening the run page."""
    today = get_clock().now().astimezone(JST).date()
    with db.reading() as session:
        runs = driver_runs(session, driver_id=current_user.driver_id, first=today, last=today + timedelta(days=2))
        rows = [(format_date_ja(run.plan.delivery_date), run.vehicle.name, run.districts,
                 driver_link(current_app, run)) for run in runs]  # type: ignore[arg-type]
    return render_template("driver/home.html", rows=rows)
