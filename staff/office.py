"""The coordinator's office work: register a phone-only resident (from a registration voicemail) and the
day's order list with cancel. Thin adapters over residents/service.py and orders/service.py."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy.orm import Session

from accounts.security import audit_view, csrf_token, current_actor, staff_change_required, staff_required
from orders.calendar import format_date_ja
from orders.models import STATUS_LABELS_JA
from orders.service import orders_of_day
from delivery.door_orders import cancel_order
from core.clock import get_clock
from core.clock import JST
from core.db import db
from core.errors import DomainError
from residents.models import VoiceMessage
from residents.phones import national_format
from residents.service import list_districts, register_resident
from residents.voice_messages import mark_handled, voice_message_or_none

bp = Blueprint("office", __name__, url_prefix="/staff", template_folder="templates")

_FIELDS = ("name", "kana", "phone", "address", "district_id", "lat", "lon", "delivery_notes")


def _float(text: str) -> float | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise DomainError("bad_location", "地図の位置（緯度・経度）は数字で入力してください。") from None


def _message(session: Session, message_id: int | None) -> VoiceMessage | None:
    if message_id is None:
        return None
    message = voice_message_or_none(session, message_id)
    if message is None:
        abort(404, description="その録音メッセージは見つかりませんでした。")
    return message


@bp.route("/residents/new", methods=["GET", "POST"])
@staff_change_required
def new_resident():  # type: ignore[no-untyped-def]
    """Register a resident who has only a phone (e.g. from a 登録の申し込み voicemail): the same service
    and rules as LINE self-registration; the voicemail is marked handled in the same transaction."""
    message_id = request.args.get("message", type=int)
    form = {k: (request.form.get(k) or "").strip() for k in _FIELDS}
    error = None
    if request.method == "POST":
        now = get_clock().now()
        try:
            with db.transaction() as session:
                message = _message(session, message_id)
                try:
                    district_id = int(form["district_id"])
                except ValueError:
                    raise DomainError("unknown_district", "地区を選んでください。") from None
                resident = register_resident(
                    session, name=form["name"], kana=form["kana"], district_id=district_id,
                    address=form["address"], lat=_float(form["lat"]), lon=_float(form["lon"]),
                    phone=form["phone"] or None, delivery_notes=form["delivery_notes"],
                    consent=request.form.get("consent") == "yes", actor=current_actor(), channel="staff", now=now)
                if message is not None:
                    mark_handled(session, message, actor=current_actor(), now=now, resident_id=resident.id)
                resident_id = resident.id
            flash(f"{form['name']} 様を登録しました（番号 {resident_id}）。電話注文ができるようになりました。")
            return redirect(url_for("voice.messages") if message_id else url_for("staff.dashboard"))
        except DomainError as failure:
            error = failure.message
    with db.reading() as session:
        message = _message(session, message_id)
        if message is not None and not form["phone"]:
            form["phone"] = national_format(message.from_number)
        districts = [(d.id, d.name) for d in list_districts(session)]
    return render_template("staff/new_resident.html", form=form, districts=districts, error=error,
                           message=message, jst=JST, csrf_token=csrf_token()), (400 if error else 200)


@bp.get("/orders")
@staff_required
def orders() -> str:
    """The day's orders (every status), with cancel for those still open."""
    text = request.args.get("date", "")
    try:
        day = date.fromisoformat(text) if text else get_clock().now().astimezone(JST).date()
    except ValueError:
        abort(400, description="日付は YYYY-MM-DD の形で指定してください。")
    with db.reading() as session:
        rows = orders_of_day(session, delivery_date=day)
        page = render_template("staff/orders.html", day=day, day_text=format_date_ja(day), orders=rows,
                               labels=STATUS_LABELS_JA, csrf_token=csrf_token(), national_format=national_format)
    audit_view("orders", "delivery_day", day.isoformat(), orders=[o.id for o in rows])
    return page


@bp.post("/orders/<int:order_id>/cancel-order")
@staff_change_required
def cancel(order_id: int):  # type: ignore[no-untyped-def]
    """取り消し on the resident's behalf (they phoned): stock goes back, the resident is told."""
    day = request.form.get("date", "")
    try:
        with db.transaction() as session:
            result = cancel_order(session, order_id=order_id, actor=current_actor(), channel="staff",
                                  now=get_clock().now())
        flash(f"注文番号 {order_id} は取り消し済みです。" if result.already_cancelled
              else f"注文番号 {order_id} を取り消し、在庫を戻して、お客様にお知らせしました。")
    except DomainError as failure:
        flash(failure.message)
    return redirect(url_for("office.orders", date=day) if day else url_for("office.orders"))
