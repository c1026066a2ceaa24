"""Stock reservation for orders: guarded single-statement updates, taken in product-id order.

Why this shape (docs/design-notes.md, "Stock"): a read-then-write oversells under concurrency on both
databases, while ``UPDATE ... WHERE stock >= :q`` is atomic on SQLite (writers serialised by
BEGIN IMMEDIATE) and on PostgreSQL (the row lock re-checks the WHERE clause after a concurrent commit).
Taking rows in product-id order means two multi-line orders can never wait on each other in a cycle.

Every change writes a StockMovement, so ``initial + Σ delta == stock`` for every product whose stock is
counted. A product with ``stock IS NULL`` (unlimited) is never counted and gets no ledger rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from orders.errors import sold_out, unavailable
from shops.models import Product, StockMovement


_products = Product.__table__
_movements = StockMovement.__table__

# Built once: the hot path of every order. Core statements on the session's connection skip the ORM's
# bulk-update bookkeeping, which is most of the cost of a one-row UPDATE.
_TAKE = (
    update(_products)
    .where(_products.c.id == bindparam("pid"), _products.c.available.is_(True),
           or_(_products.c.stock.is_(None), _products.c.stock >= bindparam("qty")))
    .values(stock=_products.c.stock - bindparam("qty"))
    .returning(_products.c.stock)
)
_GIVE = (
    update(_products)
    .where(_products.c.id == bindparam("pid"), _products.c.stock.is_not(None))
    .values(stock=_products.c.stock + bindparam("qty"))
    .returning(_products.c.stock)
)


def take(session: Session, *, quantities: Mapping[int, int], products: Mapping[int, Product],
         order_id: int, reason: str, actor: str, now: datetime) -> None:
    """Reserve ``quantities`` (product id → units) or raise sold_out / product_unavailable.

    On error, earlier rows of this call are already decremented: callers run this inside a SAVEPOINT
    so that a failed order leaves nothing behind even if their own transaction goes on and commits.
    """
    connection = session.connection()
    ledger = []
    for product_id in sorted(quantities):
        quantity = quantities[product_id]
        if quantity <= 0:
            continue
        row = connection.execute(_TAKE, {"pid": product_id, "qty": quantity}).first()
        product = products[product_id]
        if row is None:
            raise _why_not(session, product, quantity)
        set_committed_value(product, "stock", row[0])
        if row[0] is not None:
            ledger.append(dict(product_id=product_id, delta=-quantity, reason=reason, order_id=order_id,
                               actor=actor, at=now))
    if ledger:
        connection.execute(insert(_movements), ledger)


def give_back(session: Session, *, quantities: Mapping[int, int], order_id: int, reason: str,
              actor: str, now: datetime) -> None:
    """Return units to counted stock (a cancel, or a smaller changed order). Never fails."""
    connection = session.connection()
    ledger = []
    for product_id in sorted(quantities):
        quantity = quantities[product_id]
        if quantity <= 0:
            continue
        row = connection.execute(_GIVE, {"pid": product_id, "qty": quantity}).first()
        if row is None:
            continue  # the shop made it unlimited meanwhile: nothing is counted any more
        # Refresh a loaded instance without a query; an unloaded one will read the new value anyway.
        product = session.identity_map.get(session.identity_key(Product, product_id))
        if isinstance(product, Product):
            set_committed_value(product, "stock", row[0])
        ledger.append(dict(product_id=product_id, delta=quantity, reason=reason, order_id=order_id,
                           actor=actor, at=now))
    if ledger:
        connection.execute(insert(_movements), ledger)


def reserved_for(session: Session, order_id: int) -> dict[int, int]:
    """What the ledger holds for an order right now (product id → units), from its own movements.

    Restocking from the ledger rather than from the order lines means a cancel gives back exactly what
    was taken: nothing for unlimited products, nothing twice.
    """
    rows = session.execute(
        select(StockMovement.product_id, func.sum(StockMovement.delta))
        .where(StockMovement.order_id == order_id)
        .group_by(StockMovement.product_id)
    ).all()
    return {product_id: -int(total) for product_id, total in rows if total and -int(total) > 0}


def _why_not(session: Session, product: Product, quantity: int) -> Exception:
    current = session.execute(
        select(Product.available, Product.stock).where(Product.id == product.id)
    ).one()
    set_committed_value(product, "stock", current.stock)
    set_committed_value(product, "available", current.available)
    if not current.available:
        return unavailable(product.id, product.name)
    return sold_out(product.id, product.name, left=current.stock or 0)
