"""「電話受付」: the coordinator finds a resident who phoned the office, takes their order (quote, then
確定), and opens, changes or cancels an order. Thin adapters over residents/service.py and
orders/office.py (the same placing, addition, cutoff and stock rules as LINE and the phone line)."""

from __future__ import annotations

import secrets
from datetime import date

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

from accounts.security import audit_view, csrf_token, current_actor, staff_change_required, staff_required
from core.clock import JST, get_clock
from delivery.by_hand import move_by_hand, overrun_notes_ja
from delivery.order_stop import stop_of_order
from delivery.pins import pin_of, unpin_door
from delivery.runner import by_hand_links
from delivery.van_choices import move_choices, parse_target
from core.db import db
from core.errors import DomainError
from orders.calendar import format_date_ja, format_datetime_ja
from orders.models import OPEN_STATUSES, STATUS_LABELS_JA
from orders.office import CHANNEL_LABELS_JA, HISTORY_LABELS_JA, office_day, order_history, quote_office_order, take_office_order
from orders.placing import MAX_QUANTITY, LineItem
from orders.service import change_order, get_order
from residents.phones import national_format
from residents.service import get_resident, search_residents
from shops.service import list_products, list_shops

bp = Blueprint("phone_orders", __name__, url_prefix="/staff", template_folder="templates")


def _quantities(prefix: str = "q_") -> list[LineItem]:
    """Form fields ``q_<product id>`` → line items; blank or 0 means not ordered."""
    items = []
    for key, value in request.form.items():
        if not key.startswith(prefix) or not (value or "").strip():
            continue
        try:
            product_id, quantity = int(key[len(prefix):]), int(value.strip())
        except ValueError:
            raise DomainError("bad_quantity", "数量は0から99までの数字で入力してください。") from None
        if not 0 <= quantity <= MAX_QUANTITY:
            raise DomainError("bad_quantity", "数量は0から99までの数字で入力してください。")
        if quantity:
            items.append(LineItem(product_id=product_id, quantity=quantity))
    return items


@bp.get("/residents")
@staff_required
def residents() -> str:
    text = (request.args.get("q") or "").strip()[:64]
    with db.reading() as session:
        found = search_residents(session, text) if text else []
        page = render_template("staff/residents.html", q=text, residents=found, national_format=national_format)
    if text:
        audit_view("residents_search", "resident_search", "-", residents=[r.id for r in found])
    return page


@bp.get("/residents/<int:resident_id>")
@staff_required
def resident(resident_id: int) -> str:
    with db.reading() as session:
        try:
            person = get_resident(session, resident_id)
        except DomainError as failure:
            abort(404, description=failure.message)
        page = render_template("staff/resident.html", resident=person, national_format=national_format)
    audit_view("resident", "resident", resident_id, resident_id=resident_id)
    return page


def _entry_page(resident_id: int, *, error: str | None = None, chosen: dict[int, int] | None = None,
                window: str | None = None):  # type: ignore[no-untyped-def]
    now = get_clock().now()
    with db.reading() as session:
        try:
            person = get_resident(session, resident_id)
            day = office_day(session, resident_id=resident_id, now=now)
        except DomainError as failure:
            if getattr(failure, "http_status", 400) == 404 or failure.code == "resident_not_found":
                abort(404, description=failure.message)
            return render_template("staff/phone_order.html", resident=None, error=failure.message), 400
        shops = []
        for shop in list_shops(session):
            by_kind: dict[str, list] = {}
            for product in list_products(session, shop_id=shop.id):
                by_kind.setdefault(product.category, []).append(product)
            if by_kind:
                shops.append((shop, by_kind))
        page = render_template(
            "staff/phone_order.html", resident=person, day=day, day_text=format_date_ja(day.slot.date),
            cutoff_text=format_datetime_ja(day.slot.cutoff_at), shops=shops, chosen=chosen or {},
            window=window or person.preferred_window, error=error, csrf_token=csrf_token())
    audit_view("phone_order", "resident", resident_id, resident_id=resident_id)
    return page, (400 if error else 200)


@bp.get("/residents/<int:resident_id>/order")
@staff_change_required
def order_entry(resident_id: int):  # type: ignore[no-untyped-def]
    return _entry_page(resident_id)


@bp.post("/residents/<int:resident_id>/order/quote")
@staff_change_required
def order_quote(resident_id: int):  # type: ignore[no-untyped-def]
    window = request.form.get("window") or None
    try:
        items = _quantities()
        with db.reading() as session:
            quote, into = quote_office_order(session, resident_id=resident_id, items=items,
                                             now=get_clock().now(), window_code=window)
            person = get_resident(session, resident_id)
            page = render_template(
                "staff/phone_order_quote.html", resident=person, quote=quote, into=into,
                day_text=format_date_ja(quote.delivery_date), cutoff_text=format_datetime_ja(quote.cutoff_at),
                window=window or "", key=secrets.token_urlsafe(16), csrf_token=csrf_token())
    except DomainError as failure:
        chosen = {}
        for key, value in request.form.items():
            if key.startswith("q_") and value.strip().isdigit():
                chosen[int(key[2:])] = int(value)
        return _entry_page(resident_id, error=failure.message, chosen=chosen, window=window)
    audit_view("phone_order_quote", "resident", resident_id, resident_id=resident_id)
    return page


@bp.post("/residents/<int:resident_id>/order/confirm")
@staff_change_required
def order_confirm(resident_id: int):  # type: ignore[no-untyped-def]
    key = (request.form.get("key") or "").strip()
    try:
        delivery_date = date.fromisoformat(request.form.get("delivery_date") or "")
    except ValueError:
        abort(400, description="配達日がわかりません。もう一度注文を入力してください。")
    if not 8 <= len(key) <= 40:
        abort(400, description="注文の受付番号がありません。もう一度注文を入力してください。")
    into = request.form.get("into", type=int)
    try:
        items = _quantities()
        with db.transaction() as session:
            placed = take_office_order(
                session, resident_id=resident_id, items=items, delivery_date=delivery_date,
                actor=current_actor(), now=get_clock().now(), idempotency_key=f"office:{key}",
                window_code=request.form.get("window") or None, into=into)
            order_id, added = placed.order.id, placed.added
    except DomainError as failure:
        return _entry_page(resident_id, error=failure.message)
    flash(f"注文番号 {order_id} に追加しました（電話受付）。お客様にお知らせします。" if added
          else f"注文番号 {order_id} を承りました（電話受付）。お客様にお知らせします。")
    return redirect(url_for("phone_orders.order_detail", order_id=order_id))


@bp.get("/orders/<int:order_id>")
@staff_required
def order_detail(order_id: int):  # type: ignore[no-untyped-def]
    now = get_clock().now()
    with db.reading() as session:
        try:
            order = get_order(session, order_id=order_id)
        except DomainError as failure:
            abort(404, description=failure.message)
        history = order_history(session, order_id)
        stop = stop_of_order(session, order)
        # another van, while nothing at the door has happened yet
        vans = move_choices(session, stop.run_id) if stop and stop.status == "pending" else []
        changeable = order.status in OPEN_STATUSES and now < order.cutoff_at
        pin = pin_of(session, delivery_date=order.delivery_date, resident_id=order.resident_id)
        page = render_template(
            "staff/order_detail.html", order=order, resident=order.resident, history=history, stop=stop, vans=vans,
            pin=pin,
            labels=STATUS_LABELS_JA, channels=CHANNEL_LABELS_JA, actions=HISTORY_LABELS_JA, changeable=changeable,
            day_text=format_date_ja(order.delivery_date), cutoff_text=format_datetime_ja(order.cutoff_at),
            jst=JST, national_format=national_format, csrf_token=csrf_token())
        resident_id = order.resident_id
    audit_view("order", "order", order_id, resident_id=resident_id)
    return page


@bp.post("/orders/<int:order_id>/move-van")
@staff_change_required
def move_van(order_id: int):  # type: ignore[no-untyped-def]
    """Move the order's door (every order handed over there) to the end of another van's run."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    to = parse_target(request.form.get("to", ""))
    if to is None:
        flash("移す先の車両を選んでください。")
        return redirect(url_for("phone_orders.order_detail", order_id=order_id))
    try:
        with db.transaction() as session:
            done = move_by_hand(session, order_id=order_id, to=to, actor=current_actor(),
                                now=get_clock().now(), **by_hand_links(app))  # type: ignore[arg-type]
            eta = done.stop.eta.astimezone(JST).strftime("%H:%M")
            notes = overrun_notes_ja(done.late, done.past_shift)
            together = "・".join(str(i) for i in done.order_ids)
            emptied = f"{done.source_vehicle}の便は配達先がなくなったので取り消しました。" if done.source_removed else ""
            message = (f"注文番号 {together} を{done.source_vehicle}から{done.run.vehicle.name}の最後に移しました"
                       f"（{eta}ごろ）{notes}。{emptied}配達員・お店・お客様にお知らせしました。")
        flash(message)
    except DomainError as failure:
        flash(failure.message)
    return redirect(url_for("phone_orders.order_detail", order_id=order_id))


@bp.post("/orders/<int:order_id>/unpin")
@staff_change_required
def unpin(order_id: int):  # type: ignore[no-untyped-def]
    """Take the by-hand pin off the order's door: the next re-plan chooses its van freely."""
    try:
        with db.transaction() as session:
            order = get_order(session, order_id=order_id)
            done = unpin_door(session, delivery_date=order.delivery_date, resident_id=order.resident_id,
                              actor=current_actor(), now=get_clock().now())
        flash("車両の固定を外しました。次の計画で車両を選び直します。" if done else "この注文は車両に固定されていません。")
    except DomainError as failure:
        abort(404, description=failure.message)
    return redirect(url_for("phone_orders.order_detail", order_id=order_id))


@bp.post("/orders/<int:order_id>/change")
@staff_change_required
def order_change(order_id: int):  # type: ignore[no-untyped-def]
    """Change quantities or remove lines (0) on the resident's behalf; the cutoff rule applies."""
    try:
        items = _quantities()
        with db.transaction() as session:
            change_order(session, order_id=order_id, items=items, actor=current_actor(), channel="staff",
                         now=get_clock().now())
        flash(f"注文番号 {order_id} の内容を変更し、お客様にお知らせしました。")
    except DomainError as failure:
        flash(failure.message)
    return redirect(url_for("phone_orders.order_detail", order_id=order_id))
