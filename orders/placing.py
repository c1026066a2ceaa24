"""Quoting and placing an order: what the resident sees before confirming, then the order itself."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import bindparam, exists, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from places.models import District
from orders import notifications, stock
from orders.calendar import DeliverySlot, Window, delivery_choices, find_window, next_delivery_slot
from orders.errors import OrderError, sold_out, unavailable
from orders.models import CHANNELS, Order, OrderLine, OrderStatus
from core import audit
from residents.models import FamilyLink, Resident
from shops.models import Product, Shop

_Row = TypeVar("_Row", Order, OrderLine)

MAX_QUANTITY = 99
MAX_LINES = 30
NOTE_LIMIT = 512


@dataclass(frozen=True)
class LineItem:
    product_id: int
    quantity: int


@dataclass(frozen=True)
class QuoteLine:
    product_id: int
    shop_id: int
    name: str
    unit: str
    unit_price_yen: int
    quantity: int
    line_total_yen: int


@dataclass(frozen=True)
class Quote:
    lines: tuple[QuoteLine, ...]
    subtotal_yen: int
    fee_yen: int
    total_yen: int
    delivery_date: date
    window: Window
    cutoff_at: datetime


@dataclass(frozen=True)
class _Prepared:
    resident: Resident
    district: District
    slot: DeliverySlot
    window: Window
    products: dict[int, Product]
    quantities: dict[int, int]
    quote: Quote


def merge_items(items: Sequence[LineItem]) -> dict[int, int]:
    """Check each line's shape and merge repeated products: {product id: quantity}, in input order.

    Quantities must already be ints (channels parse 「２個」「二本」 themselves); anything else — a
    string, a float, a bool — is refused rather than guessed at.
    """
    merged: dict[int, int] = {}
    for item in items:
        product_id, quantity = item.product_id, item.quantity
        if not _is_int(product_id):
            raise OrderError("unknown_product", product_id=str(product_id))
        if not _is_int(quantity) or not 1 <= quantity <= MAX_QUANTITY:
            raise OrderError("bad_quantity", product_id=product_id)
        merged[product_id] = merged.get(product_id, 0) + quantity
        if merged[product_id] > MAX_QUANTITY:
            raise OrderError("bad_quantity", product_id=product_id)
    if not merged:
        raise OrderError("empty_basket")
    if len(merged) > MAX_LINES:
        raise OrderError("too_many_lines", max_lines=MAX_LINES)
    return merged


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def load_resident(session: Session, resident_id: int) -> Resident:
    resident = None
    if _is_int(resident_id):
        resident = session.get(Resident, resident_id, options=[joinedload(Resident.district)])
    return _usable(resident)


def _usable(resident: Resident | None) -> Resident:
    if resident is None:
        raise OrderError("unknown_resident")
    if not resident.active:
        raise OrderError("inactive_resident")
    return resident


@dataclass(frozen=True)
class _Found:
    resident: Resident | None
    district: District | None
    keyed_order_id: int | None       # an order already placed under the idempotency key
    family_to_notify: bool           # some linked family member asked to hear about orders


# Built once, like the stock statements: every order runs them, and a prebuilt statement skips
# SQLAlchemy's per-call construction and cache-key work (measured, docs/benchmarks.md, Orders).
# The key and the family are looked up with the resident: one round trip instead of three, and the
# key nearly always misses.
_KEYED_ORDER = select(Order.id).where(Order.idempotency_key == bindparam("key")).scalar_subquery()
_FAMILY_TO_NOTIFY = exists().where(FamilyLink.resident_id == Resident.id, FamilyLink.notify.is_(True))
# The district row is read under FOR KEY SHARE (PostgreSQL; SQLite renders nothing, its writers are
# serialised by BEGIN IMMEDIATE): a staff save of the district takes FOR UPDATE first
# (``orders.districts.save_district``), so it cannot take a weekday or window out between this read and
# the order's INSERT, nor can this read see the district as it was before a save still under way. KEY
# SHARE is the lock the order's foreign key takes at INSERT anyway, so placers never wait on each other;
# populate_existing because the caller may hold the district from before the lock (``_lock_door``).
_LOOK_UP = (
    select(Resident, District, _KEYED_ORDER, _FAMILY_TO_NOTIFY)
    .join(District, District.id == Resident.district_id)
    .where(Resident.id == bindparam("resident_id"))
    .with_for_update(read=True, key_share=True, of=District)
    .execution_options(populate_existing=True)
)
_PRODUCTS = (
    select(Product, Shop.active).join(Shop, Shop.id == Product.shop_id)
    .where(Product.id.in_(bindparam("ids", expanding=True)))
)
_orders = Order.__table__
_lines = OrderLine.__table__
# Core INSERTs: the ORM's unit of work (flush) was the largest single cost of an order.
_INSERT_ORDER = insert(_orders).returning(_orders.c.id)
_INSERT_LINES = insert(_lines).returning(_lines.c.id, sort_by_parameter_order=True)


def _look_up(session: Session, resident_id: int, idempotency_key: str | None) -> _Found:
    if not _is_int(resident_id):
        return _Found(None, None, None, False)
    row = session.execute(_LOOK_UP, {"resident_id": resident_id, "key": idempotency_key}).first()
    if row is None:
        return _Found(None, None, None, False)
    return _Found(row[0], row[1], row[2], bool(row[3]))


def lock_district_for_booking(session: Session, district_id: int) -> District:
    """The district, read under the same FOR KEY SHARE as ``place_order``'s, for a service that books an
    order onto one of its days (moving an order to the next delivery day): a save of the district's
    calendar waits for it, and it sees the calendar as saved."""
    district = session.scalars(select(District).where(District.id == district_id)
                               .with_for_update(read=True, key_share=True)
                               .execution_options(populate_existing=True)).one()
    return district


def load_products(session: Session, quantities: Mapping[int, int], *,
                  need: Mapping[int, int] | None = None) -> dict[int, Product]:
    """The products of a basket, checked to exist; those in ``need`` (default: all, with their
    quantities) must also be on sale and, as read now, have that many units left."""
    rows = session.execute(_PRODUCTS, {"ids": list(quantities)}).all()
    found = {product.id: (product, shop_active) for product, shop_active in rows}
    need = quantities if need is None else need
    products: dict[int, Product] = {}
    for product_id in quantities:
        if product_id not in found:
            raise OrderError("unknown_product", product_id=product_id)
        product, shop_active = found[product_id]
        products[product_id] = product
        if product_id not in need:
            continue
        if not (product.available and shop_active):
            raise unavailable(product.id, product.name)
        if product.stock is not None and product.stock < need[product_id]:
            raise sold_out(product.id, product.name, left=product.stock)
    return products


def choose_window(district: District, resident: Resident, window_code: str | None) -> Window:
    if window_code is not None:
        window = find_window(district, window_code)
        if window is None:
            raise OrderError("unknown_window", window_code=window_code)
        return window
    preferred = find_window(district, resident.preferred_window)
    if preferred is not None:
        return preferred
    choices = delivery_choices(district)
    if not choices:
        raise OrderError("unknown_window")
    return choices[-1]  # 「時間指定なし」 where the district has several windows, else its only one


def price_lines(quantities: Mapping[int, int], products: Mapping[int, Product],
                prices: Mapping[int, int] | None = None) -> tuple[QuoteLine, ...]:
    """Quote lines at today's prices, or at ``prices`` (snapshots) where given."""
    lines = []
    for product_id, quantity in quantities.items():
        product = products[product_id]
        unit_price = (prices or {}).get(product_id, product.price_yen)
        lines.append(QuoteLine(product_id=product_id, shop_id=product.shop_id, name=product.name,
                               unit=product.unit, unit_price_yen=unit_price, quantity=quantity,
                               line_total_yen=unit_price * quantity))
    return tuple(lines)


def _prepare(session: Session, *, resident_id: int, items: Sequence[LineItem], now: datetime,
             window_code: str | None, resident: Resident | None = None) -> _Prepared:
    quantities = merge_items(items)
    resident = resident or load_resident(session, resident_id)
    district = resident.district
    slot = next_delivery_slot(district, now)
    window = choose_window(district, resident, window_code)
    products = load_products(session, quantities)
    lines = price_lines(quantities, products)
    subtotal = sum(line.line_total_yen for line in lines)
    quote = Quote(lines=lines, subtotal_yen=subtotal, fee_yen=district.fee_yen,
                  total_yen=subtotal + district.fee_yen, delivery_date=slot.date, window=window,
                  cutoff_at=slot.cutoff_at)
    return _Prepared(resident, district, slot, window, products, quantities, quote)


def quote_order(session: Session, *, resident_id: int, items: Sequence[LineItem], now: datetime,
                window_code: str | None = None) -> Quote:
    """Everything shown before the resident confirms. Validates like place_order; changes nothing."""
    return _prepare(session, resident_id=resident_id, items=items, now=now, window_code=window_code).quote


def find_by_key(session: Session, idempotency_key: str) -> Order | None:
    # Nearly always a miss: look up the id alone and load the order only when there is one.
    order_id = session.scalar(select(Order.id).where(Order.idempotency_key == idempotency_key))
    return None if order_id is None else session.get(Order, order_id)


def _existing(session: Session, idempotency_key: str, resident_id: int) -> Order | None:
    order = find_by_key(session, idempotency_key)
    if order is not None and order.resident_id != resident_id:
        # A key is only ever reused by the same conversation; never hand another person's order back.
        raise OrderError("not_your_order")
    return order


def place_order(session: Session, *, resident_id: int, items: Sequence[LineItem], placed_by: str,
                channel: str, now: datetime, idempotency_key: str | None = None,
                window_code: str | None = None, note: str = "") -> Order:
    """Place a confirmed order for the next delivery slot, reserving stock, in the caller's transaction.

    All or nothing: any OrderError leaves the caller's transaction exactly as it was (the work runs in
    a SAVEPOINT), so a channel may catch the error, record its reply and commit safely. The same
    ``idempotency_key`` returns the first order, also when the duplicate arrives concurrently.
    """
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    found = _look_up(session, resident_id, idempotency_key)
    if found.keyed_order_id is not None and idempotency_key is not None:
        return _existing(session, idempotency_key, resident_id)  # type: ignore[return-value]
    quantities = merge_items(items)
    resident = _usable(found.resident)
    district = found.district
    assert district is not None   # the join found the resident's district
    slot = next_delivery_slot(district, now)
    window = choose_window(district, resident, window_code)
    products = load_products(session, quantities)
    lines = price_lines(quantities, products)
    subtotal = sum(line.line_total_yen for line in lines)
    values = dict(
        resident_id=resident.id, district_id=district.id, placed_by=placed_by, channel=channel,
        status=OrderStatus.CONFIRMED, delivery_date=slot.date, window_code=window.code,
        window_start=window.start, window_end=window.end, cutoff_at=slot.cutoff_at,
        subtotal_yen=subtotal, fee_yen=district.fee_yen, total_yen=subtotal + district.fee_yen,
        payment_method=resident.payment_method, note=(note or "").strip()[:NOTE_LIMIT],
        idempotency_key=idempotency_key, created_at=now, updated_at=now, cancelled_at=None,
    )
    line_values = [
        dict(product_id=line.product_id, shop_id=line.shop_id, name=line.name, unit=line.unit,
             unit_price_yen=line.unit_price_yen, quantity=line.quantity, line_total_yen=line.line_total_yen,
             cold=products[line.product_id].cold)
        for line in lines
    ]
    order: Order | None = None
    try:
        with session.begin_nested():
            # The order row goes first: a concurrent duplicate waits on the unique key here, before it
            # has touched any stock, and fails cleanly when the first one commits.
            order = _insert_order(session, values, line_values)
            audit.record(session, at=now, actor=placed_by, channel=channel, action="order.placed",
                         subject_type="order", subject_id=order.id, resident_id=resident.id,
                         total_yen=order.total_yen, lines=len(line_values),
                         delivery_date=order.delivery_date.isoformat())
            notifications.order_confirmed(session, order, resident, now, family=found.family_to_notify)
            # Stock comes last: on PostgreSQL a product row stays locked from its UPDATE to COMMIT, so
            # the fewer statements after it, the less other buyers of that product wait. A sold-out
            # line rolls the savepoint back, audit row and messages included.
            stock.take(session, quantities=quantities, products=products, order_id=order.id,
                       reason="order", actor=placed_by, now=now)
    except BaseException as error:
        _forget(session, order)
        if not isinstance(error, IntegrityError) or idempotency_key is None:
            raise
        winner = _existing(session, idempotency_key, resident_id)
        if winner is None:
            raise
        return winner
    return order


def _insert_order(session: Session, values: dict[str, Any], line_values: list[dict[str, Any]]) -> Order:
    """INSERT the order and its lines, then hand back a persistent Order with its lines loaded, as if
    it had been flushed by the ORM (callers read ``order.id``, ``order.lines``, ``order.district``)."""
    connection = session.connection()
    order_id = connection.execute(_INSERT_ORDER, values).scalar_one()
    line_ids = connection.execute(
        _INSERT_LINES, [dict(line, order_id=order_id) for line in line_values]
    ).scalars().all()
    order = _attach(session, Order(id=order_id, **values))
    set_committed_value(order, "lines", [
        _attach(session, OrderLine(id=line_id, order_id=order_id, **line))
        for line_id, line in zip(line_ids, line_values)
    ])
    return order


def _attach(session: Session, instance: _Row) -> _Row:
    # A row we have just inserted, made persistent without another flush or SELECT.
    make_transient_to_detached(instance)
    session.add(instance)
    return instance


def _forget(session: Session, order: Order | None) -> None:
    """After a rolled-back savepoint: the rows are gone, so their objects must not stay in the session
    (on SQLite the next order may get the same id, and the identity map would hand back this one)."""
    if order is None:
        return
    for instance in [*order.__dict__.get("lines", ()), order]:
        if instance in session:
            session.expunge(instance)
