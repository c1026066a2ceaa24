"""Quoting and placing an order: what the resident sees before confirming, then the order itself."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from delivery.models import District
from orders import notifications, stock
from orders.calendar import DeliverySlot, Window, find_window, next_delivery_slot, windows_of
from orders.errors import OrderError, sold_out, unavailable
from orders.models import CHANNELS, Order, OrderLine, OrderStatus
from otodoke import audit
from residents.models import Resident
from shops.models import Product, Shop

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


def _resident_and_keyed_order(session: Session, resident_id: int,
                              idempotency_key: str) -> tuple[Resident | None, int | None]:
    """The resident (with district) and the id of an order already placed under the key, in one
    round trip: every order starts with both look-ups, and the key nearly always misses."""
    if not _is_int(resident_id):
        return None, None
    keyed = select(Order.id).where(Order.idempotency_key == idempotency_key).scalar_subquery()
    row = session.execute(
        select(Resident, keyed).options(joinedload(Resident.district)).where(Resident.id == resident_id)
    ).first()
    return (None, None) if row is None else (row[0], row[1])


def load_products(session: Session, quantities: Mapping[int, int], *,
                  need: Mapping[int, int] | None = None) -> dict[int, Product]:
    """The products of a basket, checked to exist; those in ``need`` (default: all, with their
    quantities) must also be on sale and, as read now, have that many units left."""
    rows = session.execute(
        select(Product, Shop.active).join(Shop, Shop.id == Product.shop_id)
        .where(Product.id.in_(list(quantities)))
    ).all()
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
    windows = windows_of(district)
    if not windows:
        raise OrderError("unknown_window")
    return windows[0]


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
    resident = None
    if idempotency_key is not None:
        found, keyed_order_id = _resident_and_keyed_order(session, resident_id, idempotency_key)
        if keyed_order_id is not None:
            return _existing(session, idempotency_key, resident_id)  # type: ignore[return-value]
        resident = _usable(found)
    prepared = _prepare(session, resident_id=resident_id, items=items, now=now, window_code=window_code,
                        resident=resident)
    quote, resident = prepared.quote, prepared.resident
    order = Order(
        resident_id=resident.id, district_id=prepared.district.id, placed_by=placed_by, channel=channel,
        status=OrderStatus.CONFIRMED, delivery_date=quote.delivery_date, window_code=quote.window.code,
        window_start=quote.window.start, window_end=quote.window.end, cutoff_at=quote.cutoff_at,
        subtotal_yen=quote.subtotal_yen, fee_yen=quote.fee_yen, total_yen=quote.total_yen,
        payment_method=resident.payment_method, note=(note or "").strip()[:NOTE_LIMIT],
        idempotency_key=idempotency_key, created_at=now, updated_at=now,
    )
    order.lines = [
        OrderLine(product_id=line.product_id, shop_id=line.shop_id, name=line.name, unit=line.unit,
                  unit_price_yen=line.unit_price_yen, quantity=line.quantity,
                  line_total_yen=line.line_total_yen, cold=prepared.products[line.product_id].cold)
        for line in quote.lines
    ]
    try:
        with session.begin_nested():
            session.add(order)
            # The order row goes first: a concurrent duplicate waits on the unique key here, before it
            # has touched any stock, and fails cleanly when the first one commits.
            session.flush()
            with session.no_autoflush:
                audit.record(session, at=now, actor=placed_by, channel=channel, action="order.placed",
                             subject_type="order", subject_id=order.id, resident_id=resident.id,
                             total_yen=order.total_yen, lines=len(order.lines),
                             delivery_date=order.delivery_date.isoformat())
                notifications.order_confirmed(session, order, resident, now)
            session.flush()
            # Stock comes last: on PostgreSQL a product row stays locked from its UPDATE to COMMIT, so
            # the fewer statements after it, the less other buyers of that product wait. A sold-out
            # line rolls the savepoint back, audit row and messages included.
            stock.take(session, quantities=prepared.quantities, products=prepared.products,
                       order_id=order.id, reason="order", actor=placed_by, now=now)
    except IntegrityError:
        if idempotency_key is None:
            raise
        winner = _existing(session, idempotency_key, resident_id)
        if winner is None:
            raise
        return winner
    return order
