"""「いつもの」: reorder the resident's usual basket in one step, at today's prices, saying what is missing."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from orders.door import Placed, done_under, order_or_add, quote_for_door
from orders.errors import OrderError
from orders.models import Order, OrderStatus
from orders.placing import LineItem, Quote, load_resident
from shops.models import Product, Shop

HISTORY = 10          # look at this many recent orders
RETRIES = 5           # an item can sell out between the basket and the order; retry without it

SOLD_OUT_JA = "売り切れです"
UNAVAILABLE_JA = "ただいまお取り扱いしていません"


@dataclass(frozen=True)
class SkippedItem:
    product_id: int
    name: str
    reason: str   # Japanese, shown or read out to the resident


@dataclass(frozen=True)
class UsualBasket:
    items: tuple[LineItem, ...]
    quote: Quote | None
    skipped: tuple[SkippedItem, ...]
    into: int | None = None   # the open order of that day it would be added to (quote: no second fee)


def _usual_lines(session: Session, resident_id: int) -> tuple[tuple[int, int], ...]:
    """The most frequent basket among the last orders (ties → the most recent one)."""
    orders = session.scalars(
        select(Order).where(Order.resident_id == resident_id, Order.status != OrderStatus.CANCELLED)
        .order_by(Order.created_at.desc(), Order.id.desc()).limit(HISTORY)
        .options(selectinload(Order.lines))
    ).all()
    baskets = [tuple(sorted((line.product_id, line.quantity) for line in order.lines)) for order in orders]
    baskets = [basket for basket in baskets if basket]
    if not baskets:
        return ()
    counts = Counter(baskets)
    # max() keeps the first of equal counts, and the list runs newest first.
    return max(baskets, key=lambda basket: counts[basket])


def usual_basket(session: Session, *, resident_id: int, now: datetime) -> UsualBasket:
    load_resident(session, resident_id)
    wanted = _usual_lines(session, resident_id)
    if not wanted:
        return UsualBasket(items=(), quote=None, skipped=())
    rows = session.execute(
        select(Product, Shop.active).join(Shop, Shop.id == Product.shop_id)
        .where(Product.id.in_([pid for pid, _ in wanted]))
    ).all()
    found = {product.id: (product, active) for product, active in rows}
    items: list[LineItem] = []
    skipped: list[SkippedItem] = []
    for product_id, quantity in wanted:
        if product_id not in found:
            continue  # deleted from the catalogue; nothing sensible to name
        product, shop_active = found[product_id]
        if not (product.available and shop_active):
            skipped.append(SkippedItem(product_id, product.name, UNAVAILABLE_JA))
        elif product.stock is not None and product.stock < quantity:
            reason = SOLD_OUT_JA if product.stock == 0 else f"残り{product.stock}{product.unit}のため{SOLD_OUT_JA}"
            skipped.append(SkippedItem(product_id, product.name, reason))
        else:
            items.append(LineItem(product_id, quantity))
    quote, into = quote_for_door(session, resident_id=resident_id, items=items, now=now) if items else (None, None)
    return UsualBasket(items=tuple(items), quote=quote, skipped=tuple(skipped), into=into)


def reorder_usual(session: Session, *, resident_id: int, placed_by: str, channel: str, now: datetime,
                  idempotency_key: str | None = None) -> tuple[Order, tuple[SkippedItem, ...]]:
    """Place the usual basket (or add it to that day's open order, see ``reorder_usual_at_door``).
    Raises OrderError("no_usual_order") without history, or sold_out / empty_basket when nothing of
    it can be delivered."""
    placed, skipped = reorder_usual_at_door(session, resident_id=resident_id, placed_by=placed_by,
                                            channel=channel, now=now, idempotency_key=idempotency_key)
    return placed.order, skipped


def reorder_usual_at_door(session: Session, *, resident_id: int, placed_by: str, channel: str,
                          now: datetime, idempotency_key: str | None = None, into: int | None = None,
                          repeat_ok: bool = False) -> tuple[Placed, tuple[SkippedItem, ...]]:
    """The usual basket through ``orders.door.order_or_add``: added to the open order of that day if
    there is one, and an identical repeat within minutes raises OrderError("repeat_order") (the
    question to ask) unless ``repeat_ok``. ``into``: the order the resident was told about."""
    if idempotency_key is not None:
        existing = done_under(session, idempotency_key, None)
        if existing is not None and existing.order.resident_id == resident_id:
            return existing, ()
    basket = usual_basket(session, resident_id=resident_id, now=now)
    if not basket.items and not basket.skipped:
        raise OrderError("no_usual_order")
    items, skipped = list(basket.items), list(basket.skipped)
    for _ in range(RETRIES):
        if not items:
            break
        try:
            placed = order_or_add(session, resident_id=resident_id, items=items, placed_by=placed_by,
                                  channel=channel, now=now, idempotency_key=idempotency_key, into=into,
                                  repeat_ok=repeat_ok)
            return placed, tuple(skipped)
        except OrderError as error:
            if error.code not in ("sold_out", "product_unavailable"):
                raise
            gone = error.details["product_id"]
            name = next((s.name for s in basket.skipped if s.product_id == gone), None)
            skipped.append(SkippedItem(gone, name or _name(session, gone),
                                       SOLD_OUT_JA if error.code == "sold_out" else UNAVAILABLE_JA))
            items = [item for item in items if item.product_id != gone]
    names = "、".join(s.name for s in skipped)
    raise OrderError("sold_out", f"申し訳ありません。いつものご注文の{names}は売り切れです。",
                     product_ids=[s.product_id for s in skipped])


def _name(session: Session, product_id: int) -> str:
    return session.scalars(select(Product.name).where(Product.id == product_id)).one()
