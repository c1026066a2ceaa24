"""A shop's own products, as its web pages see them: the list (on sale or not), a new product, and every
stock or price change held to the shop that asks.

The shop always comes from the signed-in account; a product of another shop is "not found" (404), the
same answer as a product that does not exist, so one shop cannot learn what another sells. The changes
themselves are ``shops.service``'s (the guarded delta, the compare-and-set, the ledger, the audit): the
web and LINE keep stock by the same rules (docs/design-notes.md, "Stock").
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.errors import DomainError
from shops import service
from shops.models import Product, Shop, StockMovement

MAX_NAME = 64
MAX_KANA = 128
MAX_UNIT = 16
MAX_CATEGORY = 32
DEFAULT_CATEGORY = "その他"


class ProductError(DomainError):
    """A product form was refused; nothing changed."""


class NotOwnProduct(ProductError):
    """No such product in this shop (another shop's product looks exactly like a missing one)."""

    http_status = 404


_MESSAGES = {
    "not_found": "その商品は見つかりませんでした。",
    "no_shop": "このアカウントにはお店が登録されていません。担当者に連絡してください。",
    "name_required": "商品名を入れてください。",
    "name_too_long": f"商品名は{MAX_NAME}文字までにしてください。",
    "name_taken": "同じ名前の商品がもうあります。別の名前にしてください。",
    "kana_required": "よみがなを入れてください（電話やLINEで探すときに使います）。",
    "kana_too_long": f"よみがなは{MAX_KANA}文字までにしてください。",
    "unit_required": "単位（本、個、袋など）を入れてください。",
    "unit_too_long": f"単位は{MAX_UNIT}文字までにしてください。",
    "category_too_long": f"分類は{MAX_CATEGORY}文字までにしてください。",
    "bad_number": "数字で入れてください。",
}


def _error(code: str, **details: Any) -> ProductError:
    cls = NotOwnProduct if code == "not_found" else ProductError
    return cls(code, _MESSAGES[code], **details)


def read_int(text: object, *, what: str = "") -> int:
    """A whole number as a person types it: full-width digits, a sign, spaces and 「,」 allowed
    (「１２」「+5」「1,200」「150円」). Anything else is a ``bad_number`` naming ``what``."""
    raw = unicodedata.normalize("NFKC", str(text if text is not None else "")).strip()
    raw = raw.replace(",", "").replace(" ", "").removesuffix("円")
    raw = raw.replace("−", "-").replace("ー", "-")
    digits = raw[1:] if raw[:1] in "+-" else raw
    if not digits or not digits.isascii() or not digits.isdigit() or len(digits) > 9:
        message = f"{what}は数字で入れてください。" if what else _MESSAGES["bad_number"]
        raise ProductError("bad_number", message, field=what)
    return int(raw)


@dataclass(frozen=True)
class ShopProduct:
    """One row of the shop's product page (plain values: no ORM object leaves the session)."""

    id: int
    name: str
    kana: str
    unit: str
    category: str
    price_yen: int
    stock: int | None         # None: not counted (made to order)
    available: bool
    photo_url: str | None

    @property
    def on_sale(self) -> bool:
        """Residents can order it now: on sale and, when counted, at least one left."""
        return self.available and (self.stock is None or self.stock > 0)


def _row(product: Product) -> ShopProduct:
    return ShopProduct(id=product.id, name=product.name, kana=product.kana, unit=product.unit,
                       category=product.category, price_yen=product.price_yen, stock=product.stock,
                       available=product.available, photo_url=product.photo_url)


def shop_name(session: Session, shop_id: int | None) -> str:
    shop = session.get(Shop, shop_id) if shop_id is not None else None
    if shop is None:
        raise _error("no_shop")
    return shop.name


def shop_products(session: Session, shop_id: int) -> list[ShopProduct]:
    """Every product of the shop, on sale or not, in the order it was entered."""
    return [_row(p) for p in session.scalars(select(Product).where(Product.shop_id == shop_id)
                                             .order_by(Product.id))]


def own_product(session: Session, *, shop_id: int, product_id: int) -> Product:
    """The shop's own product, or ``not_found`` (404) for a missing one and another shop's alike.

    Called before every change a shop's page makes: the product id comes from the URL, the shop from
    the account. A product never moves between shops, so checking first and changing after is safe."""
    product = session.get(Product, product_id)
    if product is None or product.shop_id != shop_id:
        raise _error("not_found", product_id=product_id)
    return product


def adjust_own_stock(session: Session, *, shop_id: int, product_id: int, delta: int, actor: str,
                     now: datetime) -> ShopProduct:
    """＋/－ on the web: the same guarded delta as LINE's 「大根 +5」 (never below zero; a concurrent
    order or change is added to, never overwritten)."""
    own_product(session, shop_id=shop_id, product_id=product_id)
    return _row(service.adjust_stock(session, product_id=product_id, delta=delta, actor=actor, channel="web",
                                     now=now))


def set_own_stock(session: Session, *, shop_id: int, product_id: int, new_stock: int | None,
                  expected: int | None, actor: str, now: datetime) -> ShopProduct:
    """The absolute field on the web: a compare-and-set against the number the page showed
    (``expected``), so a page left open while orders came in cannot wipe them out (``stale_stock``)."""
    own_product(session, shop_id=shop_id, product_id=product_id)
    return _row(service.set_stock(session, product_id=product_id, new_stock=new_stock, expected=expected,
                                  actor=actor, channel="web", now=now))


def set_own_price(session: Session, *, shop_id: int, product_id: int, price_yen: int, actor: str,
                  now: datetime) -> ShopProduct:
    """A new price for new orders (placed orders keep theirs)."""
    own_product(session, shop_id=shop_id, product_id=product_id)
    return _row(service.set_price(session, product_id=product_id, price_yen=price_yen, actor=actor,
                                  channel="web", now=now))


def mark_own_sold_out(session: Session, *, shop_id: int, product_id: int, actor: str,
                      now: datetime) -> ShopProduct:
    """「売り切れ」 as on LINE: a counted product goes to 0 through the ledger, an uncounted one off sale."""
    own_product(session, shop_id=shop_id, product_id=product_id)
    return _row(service.mark_sold_out(session, product_id=product_id, actor=actor, channel="web", now=now))


def mark_own_back(session: Session, *, shop_id: int, product_id: int, received: int, actor: str,
                  now: datetime) -> ShopProduct:
    """「入荷」 as on LINE: back on sale, with ``received`` more units (a guarded delta)."""
    own_product(session, shop_id=shop_id, product_id=product_id)
    return _row(service.mark_back(session, product_id=product_id, received=received, actor=actor,
                                  channel="web", now=now))


def _text(value: str, *, required: str, too_long: str, limit: int) -> str:
    cleaned = unicodedata.normalize("NFKC", value or "").strip()
    if not cleaned:
        raise _error(required)
    if len(cleaned) > limit:
        raise _error(too_long)
    return cleaned


@dataclass(frozen=True)
class NewProduct:
    name: str
    kana: str
    unit: str
    price_yen: int
    stock: int | None
    category: str = DEFAULT_CATEGORY


def check_new_product(session: Session, *, shop_id: int, name: str, kana: str, unit: str, price_yen: int,
                      stock: int | None, category: str = "", except_id: int | None = None) -> NewProduct:
    """The form's values, checked (Japanese errors, nothing written): called before a photo is stored,
    so a refused form leaves no file behind. ``except_id``: the product being edited (staff's master
    data page), whose own name is not "taken"."""
    clean_name = _text(name, required="name_required", too_long="name_too_long", limit=MAX_NAME)
    wanted = service.normalise_text(clean_name)
    if any(service.normalise_text(p.name) == wanted for p in shop_products(session, shop_id) if p.id != except_id):
        raise _error("name_taken")
    clean_category = unicodedata.normalize("NFKC", category or "").strip() or DEFAULT_CATEGORY
    if len(clean_category) > MAX_CATEGORY:
        raise _error("category_too_long")
    if not isinstance(price_yen, int) or not 0 <= price_yen <= service.MAX_PRICE_YEN:
        raise service.stock_error("bad_price")
    if stock is not None and not 0 <= stock <= service.MAX_STOCK:
        raise service.stock_error("bad_stock")
    return NewProduct(name=clean_name,
                      kana=_text(kana, required="kana_required", too_long="kana_too_long", limit=MAX_KANA),
                      unit=_text(unit, required="unit_required", too_long="unit_too_long", limit=MAX_UNIT),
                      price_yen=price_yen, stock=stock, category=clean_category)


def add_product(session: Session, *, shop_id: int, product: NewProduct, photo_url: str | None, actor: str,
                now: datetime, cold: bool = False) -> ShopProduct:
    """A new product of the shop, on sale at once. Its first stock is an ``initial`` movement, so the
    ledger balances from the start; the addition is audited (ids and numbers only)."""
    shop_name(session, shop_id)
    row = Product(shop_id=shop_id, name=product.name, kana=product.kana, category=product.category,
                  unit=product.unit, price_yen=product.price_yen, stock=product.stock, available=True,
                  cold=cold, photo_url=photo_url)
    session.add(row)
    session.flush()
    if product.stock:
        session.add(StockMovement(product_id=row.id, delta=product.stock, reason="initial", order_id=None,
                                  actor=actor, at=now))
    audit.record(session, at=now, actor=actor, channel="web", action="product.add", subject_type="product",
                 subject_id=row.id, shop_id=shop_id, price=product.price_yen, stock=product.stock,
                 photo=photo_url is not None)
    return _row(row)
