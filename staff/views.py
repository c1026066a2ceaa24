"""The coordinator's pages (sign-in is accounts/): today's orders by district, planning, runs, exceptions."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy.orm import Session

from delivery.leftovers import left_out_orders
from delivery.models import Plan
from delivery.by_hand import assign_by_hand, overrun_notes_ja
from delivery.picking import picking_shops
from delivery.pins import pinned_doors
from delivery.plan_changes import orders_after_plan, plan_changes
from delivery.plan_requests import (FAILED, OPEN_STATES, QUEUED, get_request, is_stale, progress_label,
                                    request_plan, stale_limit, stale_message)
from delivery.planning import active_plan
from delivery.stops import welfare_watch
from delivery.runner import by_hand_links, configured_limit_s, queue_plan_request
from delivery.van_choices import assign_choices, parse_target
from orders.calendar import format_date_ja
from orders.errors import OrderError
from delivery.left_out_actions import cancel_left_out, move_to_next_delivery_day, next_day_for
from orders.models import OrderStatus
from orders.service import batch_totals, next_day_with_orders
from core.clock import get_clock
from core.clock import JST
from core.audit import record
from core.db import db
from core.urls import id_url
from core.errors import DomainError
from core.inputs import parse_day
from outbox.models import OutboxStatus
from outbox.requeue import can_requeue, requeue_dead
from outbox.worker import list_messages, status_counts
from residents.phones import national_format
from accounts.security import audit_view, csrf_token, current_actor, staff_change_required, staff_required

bp = Blueprint("staff", __name__, url_prefix="/staff", template_folder="templates")

DAY_STATUSES = (OrderStatus.CONFIRMED, OrderStatus.PICKED, OrderStatus.OUT_FOR_DELIVERY,
                OrderStatus.DELIVERED, OrderStatus.NOT_AT_HOME)
OUTBOX_LABELS = {"pending": "送信待ち", "sending": "送信中", "sent": "送信済み", "dead": "送れなかった"}


def _selected_date() -> date:
    text = request.args.get("date") or request.form.get("date")
    if text:
        day = parse_day(text)
        if day is not None:
            return day
        flash("日付は YYYY-MM-DD の形（2000〜2099年）で指定してください。")
    return get_clock().now().astimezone(JST).date()


@bp.get("/")
@staff_required
def dashboard() -> str:
    with db.reading() as session:
        chosen = bool(request.args.get("date"))
        today = get_clock().now().astimezone(JST).date()
        # Not chosen: the dashboard opens where the work is (the evening before, tomorrow's orders).
        day = _selected_date() if chosen else next_day_with_orders(session, today=today, statuses=DAY_STATUSES)
        moved_on = not chosen and day != today
        # Delivered and 不在 orders stay in the day's table: it must not empty out as the vans go round.
        batches = batch_totals(session, delivery_date=day, statuses=DAY_STATUSES)
        plan = active_plan(session, day)
        runs = list(plan.runs) if plan else []
        choices = assign_choices(session, plan) if plan else []   # 「この便の最後に追加」: runs and idle vans
        shops = picking_shops(session, plan) if plan else []
        unassigned = _left_out_rows(session, plan) if plan else []
        late_orders = orders_after_plan(session, plan) if plan else []
        absent = welfare_watch(session, day=day)
        outbox = status_counts(session)
        pinned = pinned_doors(session, day)
        dead = list_messages(session, status=OutboxStatus.DEAD, limit=20)
        page = render_template("staff/dashboard.html", day=day, prev_day=day - timedelta(days=1),
                               next_day=day + timedelta(days=1), batches=batches, plan=plan, runs=runs,
                               unassigned=unassigned, choices=choices, absent=absent, shops=shops, outbox=outbox,
                               dead=dead, can_requeue=can_requeue, outbox_labels=OUTBOX_LABELS, moved_on=moved_on, late_orders=late_orders,
                               pinned=pinned, csrf_token=csrf_token(), jst=JST)
    # The page names residents (left out, 不在): who looked, and at which orders, goes to the audit log.
    audit_view("dashboard", "delivery_day", day.isoformat(),
               orders=[row["order_id"] for row in unassigned] + [row.order_id for row in absent]
               + [order.id for order in late_orders] + [i for door in pinned for i in door.order_ids])
    return page


def _left_out_rows(session: Session, plan: Plan) -> list[dict[str, object]]:
    """Orders on none of the active plan's runs: who to phone, why, and the day 「次の配達日へ」 moves to."""
    now = get_clock().now()
    rows: list[dict[str, object]] = []
    # Built once: a busy day leaves hundreds of orders out, each row with three forms.
    move_url, assign_url = id_url("staff.move_next", "order_id"), id_url("staff.assign", "order_id")
    cancel_url = id_url("staff.cancel_left", "order_id")
    next_days: dict[tuple[int, date], str] = {}   # the next day depends only on district and day
    for item in left_out_orders(session, plan):
        order, resident = item.order, item.order.resident
        key = (order.district_id, order.delivery_date)
        if key not in next_days:
            try:
                next_days[key] = format_date_ja(next_day_for(order, now).date)
            except OrderError:
                next_days[key] = ""
        rows.append({"order_id": order.id, "reason": item.reason, "name": f"{resident.name} 様",
                     "phone": national_format(resident.phone or resident.mobile_phone or ""),
                     "address": resident.address, "next_day": next_days[key],
                     "movable": order.status is OrderStatus.CONFIRMED, "move_url": move_url(order.id),
                     "assign_url": assign_url(order.id), "cancel_url": cancel_url(order.id)})
    return rows


@bp.get("/plan/confirm")
@staff_change_required
def plan_confirm() -> str:
    """「今すぐ計画」 asks first: a re-plan replaces the plan drivers and shops may already have."""
    day = _selected_date()
    return render_template("staff/plan_confirm.html", day=day, day_ja=format_date_ja(day),
                           csrf_token=csrf_token())


@bp.post("/plan")
@staff_change_required
def plan_now():  # type: ignore[no-untyped-def]
    """Queue a plan (re-plan) of the chosen day as a background job and show its progress; a second
    click while one is queued or running lands on the same request (one open request per day)."""
    day = _selected_date()
    now = get_clock().now()
    try:
        # request_plan refuses a day that is over (the same refusal as ``otodoke plan``).
        with db.transaction() as session:
            plan_request, created = request_plan(session, delivery_date=day, actor=current_actor(), now=now,
                                                 configured_limit_s=configured_limit_s(current_app))
            request_id, queued = plan_request.id, plan_request.state == QUEUED
            if created:
                record(session, at=now, actor=current_actor(), channel="staff", action="plan.requested",
                       subject_type="plan_request", subject_id=request_id, delivery_date=day.isoformat())
    except DomainError as error:
        flash(error.message)
        return redirect(url_for("staff.dashboard", date=day.isoformat()))
    if queued:
        # Also when the request existed: its task may have been lost (Huey drops a task it was running
        # when killed); a duplicate task finds the request claimed and does nothing.
        queue_plan_request(current_app._get_current_object(), request_id)  # type: ignore[attr-defined]
    return redirect(url_for("staff.plan_progress", request_id=request_id))


@bp.get("/plan/requests/<int:request_id>")
@staff_required
def plan_progress(request_id: int) -> str:
    """待機中 / 計画中 / 完了 / 失敗; the page reloads itself until the job has finished."""
    now = get_clock().now()
    with db.reading() as session:
        plan_request = get_request(session, request_id)
        if plan_request is None:
            abort(404)
        changes = plan_changes(session, plan_request.plan_id) if plan_request.plan_id else None
        limit = stale_limit(session, plan_request.delivery_date,
                            configured_limit_s=configured_limit_s(current_app))
        stale = is_stale(plan_request, now, limit=limit)   # its worker died: say so, not 計画中 for ever
        return render_template("staff/plan_progress.html", req=plan_request, changes=changes,
                               status=progress_label(plan_request, now, limit=limit),
                               day_ja=format_date_ja(plan_request.delivery_date),
                               open=plan_request.state in OPEN_STATES and not stale,
                               failed=plan_request.state == FAILED or stale,
                               error=stale_message(limit) if stale else plan_request.error)


# --- orders left out of the plan: 「次の配達日へ」「便に追加」「取り消してお知らせ」 ------------------------

def _back_to(day: date):  # type: ignore[no-untyped-def]
    return redirect(url_for("staff.dashboard", date=day.isoformat()) + "#left-out")


@bp.post("/orders/<int:order_id>/move-next")
@staff_change_required
def move_next(order_id: int):  # type: ignore[no-untyped-def]
    day = _selected_date()
    try:
        with db.transaction() as session:
            order = move_to_next_delivery_day(session, order_id=order_id, actor=current_actor(),
                                              channel="staff", now=get_clock().now())
            message = f"注文番号 {order_id} を{format_date_ja(order.delivery_date)}のお届けに移し、お客様にお知らせしました。"
        flash(message)
    except DomainError as error:
        flash(error.message)
    return _back_to(day)


@bp.post("/orders/<int:order_id>/assign")
@staff_change_required
def assign(order_id: int):  # type: ignore[no-untyped-def]
    day = _selected_date()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    to = parse_target(request.form.get("to", ""))
    if to is None:
        flash("便を選んでください。")
        return _back_to(day)
    try:
        with db.transaction() as session:
            done = assign_by_hand(session, order_id=order_id, to=to, actor=current_actor(),
                                  now=get_clock().now(), **by_hand_links(app))  # type: ignore[arg-type]
            eta = done.stop.eta.astimezone(JST).strftime("%H:%M")
            notes = overrun_notes_ja(done.late, done.past_shift)
            message = (f"注文番号 {order_id} を{done.run.vehicle.name}の最後に追加しました（{eta}ごろ）{notes}。"
                       "配達員とお客様にお知らせしました。")
        flash(message)
    except DomainError as error:
        flash(error.message)
    return _back_to(day)


@bp.post("/orders/<int:order_id>/cancel")
@staff_change_required
def cancel_left(order_id: int):  # type: ignore[no-untyped-def]
    day = _selected_date()
    try:
        with db.transaction() as session:
            cancel_left_out(session, order_id=order_id, actor=current_actor(), now=get_clock().now())
        flash(f"注文番号 {order_id} を取り消し、在庫を戻して、お客様にお知らせしました。")
    except DomainError as error:
        flash(error.message)
    return _back_to(day)


@bp.post("/outbox/<message_id>/requeue")
@staff_change_required
def requeue(message_id: str):  # type: ignore[no-untyped-def]
    """再試行 on a dead letter the outbox may send again (a recording deletion: outbox/requeue.py)."""
    day = _selected_date()
    try:
        with db.transaction() as session:
            requeue_dead(session, message_id[:36], actor=current_actor(), now=get_clock().now())
        flash("もう一度送るよう予約しました。結果はこの画面の送信状況に出ます。")
    except DomainError as error:
        flash(error.message)
    return redirect(url_for("staff.dashboard", date=day.isoformat()) + "#outbox")
