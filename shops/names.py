"""Names of what is on sale, without loading the catalogue: the phone's read-back asks which names two
shops share (「あやめ青果店の大根」), and speech recognition gets every name as a hint."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from shops.models import Product, Shop


def _on_sale() -> Select[Any]:
    return (select(Product.name).join(Shop, Shop.id == Product.shop_id)
            .where(Shop.active.is_(True), Product.available.is_(True)))


def shared_product_names(session: Session) -> set[str]:
    """Product names on sale at more than one shop (大根 at the greengrocer and at a farm stand)."""
    # One aggregate query: the phone asks on every read-back, and loading the catalogue cost more.
    query = _on_sale().group_by(Product.name).having(func.count(Product.id) > 1)
    return set(session.scalars(query))


def product_names_on_sale(session: Session) -> list[str]:
    """Names of everything on sale in the order it was entered (names only, no ORM objects)."""
    return list(session.scalars(_on_sale().order_by(Product.id)))
