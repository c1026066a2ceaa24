"""Cancelling and changing an order before its cutoff.

The order row is locked first (``FOR UPDATE`` on PostgreSQL; SQLite writers are already serialised by
BEGIN IMMEDIATE), then product rows in id order, the same order ``place_order`` uses, so a cancel, a
change and new orders never wait on each other in a cycle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from orders import notifications, stock
from orders.errors import OrderError
from orders.models import OPEN_STATUSES, Order, OrderLine, OrderStatus
from orders.placing import LineItem, load_products, merge_items, price_lines
from core import audit
from core.models import AuditEntry


@dataclass(frozen=True)
class CancelResult:
    order: Order
    already_cancelled: bool


def order_or_none(session: Session, order_id: int) -> Order | None:
    """The order with this id, or None."""
    return session.get(Order, order_id)


def orders_by_ids(session: Session, order_ids: Sequence[int]) -> list[Order]:
    """The orders with these ids, in the order given; ids with no order are left out."""
    found = (session.get(Order, order_id) for order_id in order_ids)
    return [order for order in found if order is not None]


def get_order(session: Session, *, order_id: int, resident_id: int | None = None,
              for_update: bool = False) -> Order:
    """One order; with ``resident_id`` it must be theirs (else the same answer as a missing order)."""
    if not isinstance(order_id, int) or isinstance(order_id, bool):
        raise OrderError("unknown_order")
    query = select(Order).where(Order.id == order_id).options(selectinload(Order.lines))
    if for_update:
        query = query.with_for_update(of=Order).execution_options(populate_existing=True)
    order = session.scalars(query).one_or_none()
    if order is None:
        raise OrderError("unknown_order")
    if resident_id is not None and order.resident_id != resident_id:
        raise OrderError("not_your_order")
    return order


def _check_changeable(order: Order, now: datetime, *, cutoff: bool = True) -> None:
    if order.status not in OPEN_STATUSES:
        raise OrderError("not_changeable", status=order.status.value)
    if cutoff and now >= order.cutoff_at:
        raise OrderError("past_cutoff", cutoff_at=order.cutoff_at.isoformat())


def cancel_order(session: Session, *, order_id: int, actor: str, channel: str, now: datetime,
                 resident_id: int | None = None, after_cutoff: bool = False,
                 headline: str | None = None) -> CancelResult:
    """Cancel before the cutoff and give the stock back exactly once. A repeat is a harmless no-op.

    ``after_cutoff`` is for staff only (an order the day's vans could not take); ``headline`` replaces
    the resident's 「ご注文を取り消しました。」 with the reason."""
    order = get_order(session, order_id=order_id, resident_id=resident_id, for_update=True)
    if order.status is OrderStatus.CANCELLED:
        return CancelResult(order, already_cancelled=True)
    _check_changeable(order, now, cutoff=not after_cutoff)
    # The guarded transition is what makes the restock happen once: only the caller that moves the
    # order out of an open status gives stock back, whatever else runs at the same time.
    moved = session.execute(
        update(Order)
        .where(Order.id == order.id, Order.status.in_(OPEN_STATUSES))
        .values(status=OrderStatus.CANCELLED, cancelled_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        session.refresh(order, ["status"])
        if order.status is OrderStatus.CANCELLED:
            return CancelResult(order, already_cancelled=True)
        raise OrderError("not_changeable", status=order.status.value)
    for name, value in (("status", OrderStatus.CANCELLED), ("cancelled_at", now), ("updated_at", now)):
        set_committed_value(order, name, value)
    stock.give_back(session, quantities=stock.reserved_for(session, order.id), order_id=order.id,
                    reason="cancel", actor=actor, now=now)
    audit.record(session, at=now, actor=actor, channel=channel, action="order.cancelled",
                 subject_type="order", subject_id=order.id, resident_id=order.resident_id)
    notifications.order_cancelled(session, order, order.resident, now, headline=headline)
    return CancelResult(order, already_cancelled=False)


def change_order(session: Session, *, order_id: int, items: Sequence[LineItem], actor: str,
                 channel: str, now: datetime, resident_id: int | None = None) -> Order:
    """Replace the order's lines before its cutoff; all or nothing.

    Only the difference is moved: a product kept at the same quantity is not touched, so it cannot turn
    "sold out" under the resident's feet. Products already in the order keep their snapshot price;
    new ones are priced today.
    """
    quantities = merge_items(items)
    order = get_order(session, order_id=order_id, resident_id=resident_id, for_update=True)
    _check_changeable(order, now)
    held = stock.reserved_for(session, order.id)
    old_quantities = {line.product_id: line.quantity for line in order.lines}
    snapshots = {line.product_id: line.unit_price_yen for line in order.lines}
    # Only new or larger lines must be on sale with enough left; kept or smaller ones are already ours.
    growing = {pid: q - held.get(pid, 0) for pid, q in quantities.items()
               if q > old_quantities.get(pid, 0)}
    products = load_products(session, quantities, need=growing)
    lines = price_lines(quantities, products, prices=snapshots)

    def to_take(pid: int) -> int:
        if products[pid].stock is None and pid not in growing:
            return 0  # unlimited and not growing: nothing is counted, nothing to check
        return quantities[pid] - held.get(pid, 0)

    more = {pid: to_take(pid) for pid in quantities if to_take(pid) > 0}
    less = {pid: held[pid] - quantities.get(pid, 0) for pid in held if held[pid] > quantities.get(pid, 0)}
    with session.begin_nested():
        # One pass in product-id order over both directions keeps place_order's lock order.
        for pid in sorted(set(more) | set(less)):
            if pid in more:
                stock.take(session, quantities={pid: more[pid]}, products=products, order_id=order.id,
                           reason="change", actor=actor, now=now)
            else:
                stock.give_back(session, quantities={pid: less[pid]}, order_id=order.id,
                                reason="change", actor=actor, now=now)
        order.lines.clear()
        session.flush()
        order.lines.extend(
            OrderLine(product_id=line.product_id, shop_id=line.shop_id, name=line.name, unit=line.unit,
                      unit_price_yen=line.unit_price_yen, quantity=line.quantity,
                      line_total_yen=line.line_total_yen, cold=products[line.product_id].cold)
            for line in lines
        )
        order.subtotal_yen = sum(line.line_total_yen for line in lines)
        order.total_yen = order.subtotal_yen + order.fee_yen
        order.updated_at = now
        session.flush()
        audit.record(session, at=now, actor=actor, channel=channel, action="order.changed",
                     subject_type="order", subject_id=order.id, resident_id=order.resident_id,
                     total_yen=order.total_yen, lines=len(lines))
        version = session.scalar(
            select(func.count()).select_from(AuditEntry)
            .where(AuditEntry.action == "order.changed", AuditEntry.subject_type == "order",
                   AuditEntry.subject_id == str(order.id))
        )
        notifications.order_changed(session, order, order.resident, now, version=version or 1)
    return order
