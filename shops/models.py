"""Shops and farm stands (店舗・直売所), their products, and the stock ledger."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base

SHOP_KINDS = ("shop", "farm_stand")


class Shop(Base):
    __tablename__ = "shops"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    kana: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(256))
    lat: Mapped[float] = mapped_column()
    lon: Mapped[float] = mapped_column()
    phone: Mapped[str | None] = mapped_column(String(32))
    pickup_open: Mapped[str] = mapped_column(String(5), default="09:00")
    pickup_close: Mapped[str] = mapped_column(String(5), default="17:00")
    active: Mapped[bool] = mapped_column(default=True)

    products: Mapped[list["Product"]] = relationship(back_populates="shop", order_by="Product.id")
    owners: Mapped[list["ShopOwner"]] = relationship(back_populates="shop")


class ShopOwner(Base):
    """A LINE account allowed to manage a shop's stock (linked with a code from the coordinator)."""

    __tablename__ = "shop_owners"
    __table_args__ = (UniqueConstraint("shop_id", "line_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    line_user_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(64), default="")

    shop: Mapped[Shop] = relationship(back_populates="owners")


class Product(Base):
    """A product at a tax-included price in yen. ``stock`` None means unlimited (e.g. bread baked to order).

    The CHECK on stock is the last line of defence against overselling; the services never rely on it.
    """

    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("stock IS NULL OR stock >= 0", name="stock_nonneg"),
        CheckConstraint("price_yen >= 0", name="price_nonneg"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    kana: Mapped[str] = mapped_column(String(128), index=True)
    category: Mapped[str] = mapped_column(String(32), index=True)
    unit: Mapped[str] = mapped_column(String(16))
    price_yen: Mapped[int] = mapped_column()
    stock: Mapped[int | None] = mapped_column()
    available: Mapped[bool] = mapped_column(default=True)
    cold: Mapped[bool] = mapped_column(default=False)
    photo_url: Mapped[str | None] = mapped_column(String(512))

    shop: Mapped[Shop] = relationship(back_populates="products")


class StockMovement(Base):
    """Every change of a product's stock, so the ledger always balances: initial + Σ delta = stock."""

    __tablename__ = "stock_movements"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    delta: Mapped[int] = mapped_column()
    reason: Mapped[str] = mapped_column(String(32))  # initial, set, adjust, order, cancel, change
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column()
