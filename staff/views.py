"""The coordinator's pages: sign-in, today's orders by district, planning, runs, exceptions."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from delivery.models import Plan, Run, RunStop
from delivery.picking import picking_shops
from delivery.runner import plan_day
from orders.models import Order, OrderStatus
from orders.service import batch_orders
from otodoke import get_clock
from otodoke.clock import JST
from otodoke.db import db
from outbox.models import OutboxMessage, OutboxStatus
from outbox.worker import status_counts
from residents.phones import national_format
from staff.auth import (check_csrf, check_password, csrf_token, record_failure, safe_next, sign_in,
                        staff_required, too_many_failures)
from staff.auth import DEV_PASSWORD

bp = Blueprint("staff", __name__, url_prefix="/staff", template_folder="templates")

DAY_STATUSES = (OrderStatus.CONFIRMED, OrderStatus.PICKED, OrderStatus.OUT_FOR_DELIVERY,
                OrderStatus.DELIVERED, OrderStatus.NOT_AT_HOME)
OUTBOX_LABELS = {"pending": "送信待ち", "sending": "送信中", "sent": "送信済み", "dead": "送れなかった"}


@bp.route("/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    error, status = None, 200
    if request.method == "POST":
        now = get_clock().now()
        with db.transaction() as session:
            if too_many_failures(session, now):
                error, status = "失敗が続いたため、しばらく（10分ほど）お待ちください。", 429
            elif check_password(request.form.get("password", "")):
                sign_in()
                target = safe_next(request.args.get("next", ""))
                return redirect(target or url_for("staff.dashboard"))
            else:
                record_failure(session, now)
                error, status = "パスワードが違います。", 401
    dev_hint = DEV_PASSWORD if not current_app.config.get("STAFF_PASSWORD") else None
    return render_template("staff/login.html", error=error, dev_hint=dev_hint), status


@bp.post("/logout")
def logout():  # type: ignore[no-untyped-def]
    from flask import session
    session.clear()
    return redirect(url_for("home.index"))


def _selected_date() -> date:
    text = request.args.get("date") or request.form.get("date")
    if text:
        try:
            return date.fromisoformat(text)
        except ValueError:
            flash("日付は YYYY-MM-DD の形で指定してください。")
    return get_clock().now().astimezone(JST).date()


@bp.get("/")
@staff_required
def dashboard() -> str:
    day = _selected_date()
    with db.reading() as session:
        # Delivered and 不在 orders stay in the day's table: it must not empty out as the vans go round.
        batches = batch_orders(session, delivery_date=day, statuses=DAY_STATUSES)
        plan = session.scalars(select(Plan).where(Plan.delivery_date == day, Plan.active.is_(True))).first()
        runs = list(plan.runs) if plan else []
        shops = picking_shops(session, plan) if plan else []
        unassigned = list(plan.unassigned) if plan else []
        absent = _absent_rows(session, _not_at_home(session, day))
        outbox = status_counts(session)
        dead = list(session.scalars(select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.DEAD)
                                    .order_by(OutboxMessage.created_at.desc()).limit(20)))
        return render_template("staff/dashboard.html", day=day, prev_day=day - timedelta(days=1),
                               next_day=day + timedelta(days=1), batches=batches, plan=plan, runs=runs,
                               unassigned=unassigned, absent=absent, shops=shops, outbox=outbox, dead=dead,
                               outbox_labels=OUTBOX_LABELS,
                               csrf_token=csrf_token(), jst=JST)


def _not_at_home(session: Session, day: date) -> list[RunStop]:
    """The day's 不在 stops on every plan version, once per order: a re-plan (which leaves recorded
    stops out of the new runs) must not drop a resident from the welfare list."""
    seen: set[int | None] = set()
    stops = []
    for stop in session.scalars(select(RunStop).join(Run).join(Plan).where(
            Plan.delivery_date == day, RunStop.status == "not_at_home").order_by(RunStop.done_at, RunStop.id)):
        if stop.order_id not in seen:
            seen.add(stop.order_id)
            stops.append(stop)
    return stops


def _absent_rows(session: Session, stops: list[RunStop]) -> list[dict[str, str]]:
    """見守り: who was not at home, where, and how to reach them; an order number alone means nothing
    to the coordinator who has to phone the resident or the family."""
    order_ids = [s.order_id for s in stops if s.order_id is not None]
    orders = {o.id: o for o in session.scalars(
        select(Order).where(Order.id.in_(order_ids)).options(selectinload(Order.resident)))} if order_ids else {}
    runs = {r.id: r for r in session.scalars(
        select(Run).where(Run.id.in_({s.run_id for s in stops})).options(
            selectinload(Run.vehicle), selectinload(Run.driver)))} if stops else {}
    rows = []
    for stop in stops:
        order = orders.get(stop.order_id) if stop.order_id is not None else None
        resident = order.resident if order else None
        run = runs.get(stop.run_id)
        rows.append({
            "order_id": str(stop.order_id or ""),
            "time": stop.done_at.astimezone(JST).strftime("%H:%M") if stop.done_at else "",
            "name": f"{resident.name} 様" if resident else "",
            "phone": national_format(resident.phone or resident.mobile_phone or "") if resident else "",
            "address": resident.address if resident else "",
            "run": (f"{run.vehicle.name}（{run.driver.name}）" if run.driver else run.vehicle.name) if run else "",
        })
    return rows


@bp.post("/plan")
@staff_required
def plan_now():  # type: ignore[no-untyped-def]
    """「今すぐ計画」: plan or re-plan the chosen day now (a new version; done stops are kept)."""
    check_csrf()
    day = _selected_date()
    if day < get_clock().now().astimezone(JST).date():
        # Re-planning a past day would retire the plan its drivers actually ran (and its records).
        flash("過ぎた日の計画は作り直せません。")
        return redirect(url_for("staff.dashboard", date=day.isoformat()))
    outcome = plan_day(current_app._get_current_object(), delivery_date=day,  # type: ignore[attr-defined]
                       actor="staff:coordinator")
    flash(outcome.message)
    return redirect(url_for("staff.dashboard", date=day.isoformat()))
