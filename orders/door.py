"""One order per door per day (issue #9): a second order for the same resident and delivery day, while
the first is still open, is added to it (one order, one stop, one fee), and an identical repeat within
a few minutes (いつもの tapped twice) is asked about instead of placed.

Channels call ``quote_for_door`` to show what confirming will do, then ``order_or_add`` to do it.
``order_or_add`` locks the resident's row (FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE already
serialises writers) before it looks for the open order, so two confirmations for one door (a double
tap, a family member at the same moment, LINE and the phone) run one after the other and the second
adds to the first's order. Locks are taken resident → order → products, and nothing locks a resident
while holding an order or a product, so this adds no cycle to place/change/cancel.
``place_order`` itself does not look for an open order: it stays the primitive (simulator, staff, bench).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from orders import notifications, stock
from orders.calendar import Window, find_window, next_delivery_slot
from orders.changes import _check_changeable, get_order
from orders.errors import OrderError
from orders.models import CHANNELS, OPEN_STATUSES, Order, OrderAddition, OrderLine, OrderStatus
from orders.placing import (MAX_LINES, MAX_QUANTITY, LineItem, Quote, load_products, load_resident,
                            merge_items, place_order, price_lines, quote_order)
from core import audit
from residents.models import Resident

REPEAT_WINDOW = timedelta(minutes=10)
REPEAT_QUESTION = "さきほど同じご注文（注文番号 {order_id}）を承りました。もう一度同じものを追加しますか？"


@dataclass(frozen=True)
class Placed:
    order: Order
    added: bool     # True: the lines went into an order that was already open for that day


def open_order_for(session: Session, *, resident_id: int, now: datetime) -> Order | None:
    """The resident's open order (received or confirmed, before its cutoff) for the day a new order
    placed now would be delivered on, or None. Reads only."""
    resident = load_resident(session, resident_id)
    slot = next_delivery_slot(resident.district, now)
    return _open_on(session, resident.id, slot.date)


def _open_on(session: Session, resident_id: int, day: date) -> Order | None:
    # Its cutoff is that day's, still ahead (add_to_order checks it again under the lock).
    return session.scalars(
        select(Order).where(Order.resident_id == resident_id, Order.delivery_date == day,
                            Order.status.in_(OPEN_STATUSES))
        .order_by(Order.id).limit(1).options(selectinload(Order.lines))
        .execution_options(populate_existing=True)
    ).first()


def quote_for_door(session: Session, *, resident_id: int, items: Sequence[LineItem], now: datetime,
                   window_code: str | None = None) -> tuple[Quote, int | None]:
    """What confirming will do, before anything counts: a new order's quote and None, or, with an open
    order for that day, the addition's quote (no second fee, that order's day and window) and its id."""
    open_order = open_order_for(session, resident_id=resident_id, now=now)
    if open_order is None:
        return quote_order(session, resident_id=resident_id, items=items, now=now,
                           window_code=window_code), None
    adding = merge_items(items)
    _merged(open_order, adding)
    products = load_products(session, adding)
    lines = price_lines(adding, products, prices=_snapshots(open_order))
    subtotal = sum(line.line_total_yen for line in lines)
    window = find_window(open_order.district, open_order.window_code) or Window(
        open_order.window_code, open_order.window_code, open_order.window_start, open_order.window_end)
    quote = Quote(lines=lines, subtotal_yen=subtotal, fee_yen=0, total_yen=subtotal,
                  delivery_date=open_order.delivery_date, window=window, cutoff_at=open_order.cutoff_at)
    return quote, open_order.id


def recent_repeat(session: Session, *, resident_id: int, items: Sequence[LineItem],
                  now: datetime) -> Order | None:
    """An order of this resident placed, or added to, in the last ``REPEAT_WINDOW`` with exactly these
    items and quantities (いつもの tapped twice), or None. Reads only."""
    wanted = merge_items(items)
    since = now - REPEAT_WINDOW
    orders = session.scalars(
        select(Order).where(Order.resident_id == resident_id, Order.status != OrderStatus.CANCELLED,
                            Order.updated_at >= since)
        .order_by(Order.id.desc()).options(selectinload(Order.lines))
    ).all()
    for order in orders:
        additions = session.scalars(
            select(OrderAddition).where(OrderAddition.order_id == order.id).order_by(OrderAddition.id)
        ).all()
        baskets = [_pairs(a.items) for a in additions if a.created_at >= since]
        if order.created_at >= since:
            # What was placed: today's lines less everything added since.
            placed = {line.product_id: line.quantity for line in order.lines}
            for addition in additions:
                for pid, quantity in _pairs(addition.items).items():
                    placed[pid] = placed.get(pid, 0) - quantity
            baskets.append({pid: q for pid, q in placed.items() if q > 0})
        if wanted in baskets:
            return order
    return None


def add_to_order(session: Session, *, order_id: int, items: Sequence[LineItem], actor: str, channel: str,
                 now: datetime, resident_id: int | None = None,
                 idempotency_key: str | None = None) -> Order:
    """Add lines to an open order before its cutoff, in the caller's transaction; all or nothing.

    The same rules as placing: the cutoff, only added units must be on sale and are reserved through
    the ledger (reason "addition"), an audit entry, and the confirmation queued in the outbox (resident,
    family who asked to hear, SMS for a phone order). Products already in the order grow at their
    snapshot price; new ones are priced today. The fee is not charged again. The same
    ``idempotency_key`` returns the order without adding twice. Does not look for the open order:
    callers that have not chosen the order use ``order_or_add``.
    """
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    if idempotency_key is not None:
        done = _added_under(session, idempotency_key, resident_id)
        if done is not None:
            return done
    adding = merge_items(items)
    order = get_order(session, order_id=order_id, resident_id=resident_id, for_update=True)
    _check_changeable(order, now)
    products = load_products(session, _merged(order, adding), need=adding)
    try:
        with session.begin_nested():
            # The addition row goes first: a concurrent duplicate key waits here, before any stock.
            addition = OrderAddition(order_id=order.id, idempotency_key=idempotency_key, actor=actor,
                                     channel=channel, items=[[pid, q] for pid, q in adding.items()],
                                     created_at=now)
            session.add(addition)
            session.flush()
            stock.take(session, quantities=adding, products=products, order_id=order.id,
                       reason="addition", actor=actor, now=now)
            by_product = {line.product_id: line for line in order.lines}
            for pid, quantity in adding.items():
                product, line = products[pid], by_product.get(pid)
                if line is not None:
                    line.quantity += quantity
                    line.line_total_yen = line.unit_price_yen * line.quantity
                else:
                    order.lines.append(OrderLine(
                        product_id=pid, shop_id=product.shop_id, name=product.name, unit=product.unit,
                        unit_price_yen=product.price_yen, quantity=quantity,
                        line_total_yen=product.price_yen * quantity, cold=product.cold))
            order.subtotal_yen = sum(line.line_total_yen for line in order.lines)
            order.total_yen = order.subtotal_yen + order.fee_yen
            order.updated_at = now
            session.flush()
            audit.record(session, at=now, actor=actor, channel=channel, action="order.added",
                         subject_type="order", subject_id=order.id, resident_id=order.resident_id,
                         addition_id=addition.id, total_yen=order.total_yen, lines=len(adding))
            version = session.scalar(select(func.count()).select_from(OrderAddition)
                                     .where(OrderAddition.order_id == order.id)) or 1
            notifications.order_added(
                session, order, order.resident, now, version=version,
                added=[f"{products[pid].name} {q}{products[pid].unit}" for pid, q in adding.items()])
    except IntegrityError:
        if idempotency_key is None:
            raise
        winner = _added_under(session, idempotency_key, resident_id)
        if winner is None:
            raise
        return winner
    return order


def order_or_add(session: Session, *, resident_id: int, items: Sequence[LineItem], placed_by: str,
                 channel: str, now: datetime, idempotency_key: str | None = None,
                 window_code: str | None = None, into: int | None = None, repeat_ok: bool = False,
                 note: str = "") -> Placed:
    """What a channel calls when the resident confirms: place the order, or add it to the open order of
    that door and day. Never a silent second order:

    * an identical repeat of an order placed or added in the last few minutes raises
      OrderError("repeat_order") whose message is the question to ask (``order_id`` in its details);
      ask it, and call again with ``repeat_ok=True`` on はい;
    * ``into`` is the order the resident was told it would be added to (from ``quote_for_door``); if
      that order is no longer open, OrderError("door_changed") asks them to look again.

    The same ``idempotency_key`` returns the first result (order or addition) without asking again.
    """
    if idempotency_key is not None:
        done = done_under(session, idempotency_key, resident_id)
        if done is not None:
            return done
    # Held until the end: the session keeps only weak references, and open_order_for and place_order read
    # the same resident again (from the identity map while it lives, else with one more SELECT).
    resident = _lock_door(session, resident_id)  # noqa: F841
    if not repeat_ok:
        again = recent_repeat(session, resident_id=resident_id, items=items, now=now)
        if again is not None:
            raise OrderError("repeat_order", REPEAT_QUESTION.format(order_id=again.id), order_id=again.id)
    open_order = open_order_for(session, resident_id=resident_id, now=now)
    if into is not None and (open_order is None or open_order.id != into):
        raise OrderError("door_changed", order_id=into)
    if open_order is None:
        order = place_order(session, resident_id=resident_id, items=items, placed_by=placed_by,
                            channel=channel, now=now, idempotency_key=idempotency_key,
                            window_code=window_code, note=note)
        return Placed(order, added=False)
    order = add_to_order(session, order_id=open_order.id, items=items, actor=placed_by, channel=channel,
                         now=now, resident_id=resident_id, idempotency_key=idempotency_key)
    return Placed(order, added=True)


def done_under(session: Session, idempotency_key: str, resident_id: int | None) -> Placed | None:
    """What an earlier call with this key did (an order placed, or lines added), or None."""
    order_id = session.scalar(select(Order.id).where(Order.idempotency_key == idempotency_key))
    if order_id is not None:
        return Placed(get_order(session, order_id=order_id, resident_id=resident_id), added=False)
    added = _added_under(session, idempotency_key, resident_id)
    return None if added is None else Placed(added, added=True)


def _added_under(session: Session, idempotency_key: str, resident_id: int | None) -> Order | None:
    order_id = session.scalar(select(OrderAddition.order_id)
                              .where(OrderAddition.idempotency_key == idempotency_key))
    return None if order_id is None else get_order(session, order_id=order_id, resident_id=resident_id)


def _lock_door(session: Session, resident_id: int) -> Resident:
    """Serialise every confirmation for this resident until the caller's transaction ends; the
    resident (active, with the district)."""
    locked = None
    if isinstance(resident_id, int) and not isinstance(resident_id, bool):
        locked = session.scalar(select(Resident.id).where(Resident.id == resident_id).with_for_update())
    if locked is None:
        raise OrderError("unknown_resident")
    return load_resident(session, resident_id)   # active, with the district


def _merged(order: Order, adding: Mapping[int, int]) -> dict[int, int]:
    merged = {line.product_id: line.quantity for line in order.lines}
    for pid, quantity in adding.items():
        merged[pid] = merged.get(pid, 0) + quantity
        if merged[pid] > MAX_QUANTITY:
            raise OrderError("bad_quantity", product_id=pid)
    if len(merged) > MAX_LINES:
        raise OrderError("too_many_lines", max_lines=MAX_LINES)
    return merged


def _snapshots(order: Order) -> dict[int, int]:
    return {line.product_id: line.unit_price_yen for line in order.lines}


def _pairs(items: object) -> dict[int, int]:
    pairs: dict[int, int] = {}
    for pid, quantity in items or []:  # type: ignore[attr-defined]
        pairs[int(pid)] = pairs.get(int(pid), 0) + int(quantity)
    return pairs
