"""Master data for shops and their products, as staff keep it (the pages in staff/master.py are thin
adapters).

A shop's own fields are checked here with the same form readers as the fleet (core/form_fields.py). A
product's name, reading, price and stock bounds are ``shops.products``'s and its price, stock and on-sale
changes go through ``shops.service`` (a compare-and-set stock with its ledger movement, the audited price),
exactly as the shop's own page and LINE change them: staff are one more caller, not a second set of rules.
Services take a session and never commit; every change is audited in the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Mapping

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import audit
from core.errors import DomainError
from core.form_fields import coordinate, minutes, text, time
from residents.phones import form_phone
from shops import products as catalogue
from shops import service
from shops.models import SHOP_KINDS, Product, Shop, ShopOwner

KIND_LABELS_JA = {"shop": "お店", "farm_stand": "直売所"}


@dataclass(frozen=True)
class ShopValues:
    name: str
    kana: str
    kind: str
    address: str
    lat: float
    lon: float
    phone: str | None
    pickup_open: str
    pickup_close: str
    active: bool


def read_shop_form(form: Mapping[str, str]) -> ShopValues:
    """The shop form's fields, checked; DomainError (Japanese) on the first bad one."""
    name = text(form, "name", "お店の名前", 64)
    kana = text(form, "kana", "ふりがな", 128)
    kind = (form.get("kind") or "").strip()
    if kind not in SHOP_KINDS:
        raise DomainError("bad_kind", "種類は「お店」か「直売所」を選んでください。")
    address = text(form, "address", "住所", 256)
    pickup_open = time(form, "pickup_open", "集荷の開始")
    pickup_close = time(form, "pickup_close", "集荷の終了")
    assert name is not None and kana is not None and address is not None
    assert pickup_open is not None and pickup_close is not None
    if minutes(pickup_open) >= minutes(pickup_close):
        raise DomainError("bad_pickup", "集荷の終了は開始より後の時刻にしてください。")
    return ShopValues(name=name, kana=kana, kind=kind, address=address,
                      lat=coordinate(form, "lat", "緯度", -90.0, 90.0),
                      lon=coordinate(form, "lon", "経度", -180.0, 180.0),
                      phone=form_phone(form), pickup_open=pickup_open, pickup_close=pickup_close,
                      active=form.get("active") == "yes")


def list_shops(session: Session) -> list[Shop]:
    """Every shop, open ones first (``shops.service.list_shops`` is the residents' catalogue: open only)."""
    return list(session.scalars(select(Shop).order_by(Shop.active.desc(), Shop.id)))


def get_shop(session: Session, shop_id: int) -> Shop:
    shop = session.get(Shop, shop_id)
    if shop is None:
        raise DomainError("unknown_shop", "そのお店は見つかりませんでした。")
    return shop


def product_counts(session: Session) -> dict[int, int]:
    return dict(session.execute(select(Product.shop_id, func.count(Product.id)).group_by(Product.shop_id)).all())


def line_owner_counts(session: Session) -> dict[int, int]:
    """How many LINE accounts manage each shop (linked by the shop owners themselves, shown only)."""
    return dict(session.execute(select(ShopOwner.shop_id, func.count(ShopOwner.id))
                                .group_by(ShopOwner.shop_id)).all())


def save_shop(session: Session, values: ShopValues, *, shop_id: int | None, actor: str, now: datetime) -> Shop:
    """Add (``shop_id`` None) or change a shop. Shops are never deleted: orders and products refer to
    them, so closing one is ``active = False`` (the catalogue shows active shops only)."""
    shop = Shop() if shop_id is None else get_shop(session, shop_id)
    before = {} if shop_id is None else _snapshot(shop, ShopValues)
    for field, value in values.__dict__.items():
        setattr(shop, field, value)
    if shop_id is None:
        session.add(shop)
    session.flush()
    after = _snapshot(shop, ShopValues)
    # Field names only: the phone number may be a person's own.
    audit.record(session, at=now, actor=actor, channel="web", action="shop.add" if shop_id is None else "shop.edit",
                 subject_type="shop", subject_id=shop.id, fields=sorted(k for k in after if before.get(k) != after[k]))
    return shop


def _snapshot(obj: object, values: type) -> dict[str, object]:
    return {f: getattr(obj, f) for f in values.__dataclass_fields__}  # type: ignore[attr-defined]


# ---- products ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ProductValues:
    details: catalogue.NewProduct   # name, kana, unit, category, price, stock: checked by shops.products
    available: bool
    cold: bool


def read_product_form(session: Session, form: Mapping[str, str], *, shop_id: int,
                      product_id: int | None) -> ProductValues:
    """The product form, checked by the shop portal's own rules (``check_new_product``): the same
    required fields, lengths, one name per shop, and price and stock bounds. Stock empty: not counted."""
    price = catalogue.read_int(form.get("price_yen"), what="値段")
    stock_text = (form.get("stock") or "").strip()
    stock = catalogue.read_int(stock_text, what="在庫の数") if stock_text else None
    details = catalogue.check_new_product(session, shop_id=shop_id, name=form.get("name") or "",
                                          kana=form.get("kana") or "", unit=form.get("unit") or "",
                                          price_yen=price, stock=stock, category=form.get("category") or "",
                                          except_id=product_id)
    return ProductValues(details=details, available=form.get("available") == "yes", cold=form.get("cold") == "yes")


def read_expected_stock(form: Mapping[str, str]) -> int | None:
    """The stock the edit page showed (hidden field), the base of the compare-and-set."""
    shown = (form.get("expected_stock") or "").strip()
    return catalogue.read_int(shown, what="在庫の数") if shown else None


def get_product(session: Session, *, shop_id: int, product_id: int) -> Product:
    """The shop's product, or 404 for a missing one or another shop's (the URL names both)."""
    return catalogue.own_product(session, shop_id=shop_id, product_id=product_id)


def save_product(session: Session, values: ProductValues, *, shop_id: int, product_id: int | None,
                 expected_stock: int | None, actor: str, now: datetime) -> Product:
    """Add or change a shop's product on the shop's behalf.

    Adding is ``shops.products.add_product`` (its ``initial`` movement, its audit). Changing the price,
    the stock and on sale are ``shops.service``'s own changes: the stock is a compare-and-set against
    ``expected_stock`` (what the page showed), so orders placed while the page was open are never wiped
    out (``stale_stock``, 409), and the difference is a ledger movement. Names, unit, category and the
    cold flag are set here and audited as ``product.edit`` (field names only)."""
    get_shop(session, shop_id)
    who = dict(actor=actor, channel="web", now=now)
    details = values.details
    if product_id is None:
        row = catalogue.add_product(session, shop_id=shop_id, product=details, photo_url=None, actor=actor,
                                    now=now, cold=values.cold)
        if not values.available:
            service.set_available(session, product_id=row.id, available=False, **who)
        product = session.get(Product, row.id)
        assert product is not None
        return product
    product = get_product(session, shop_id=shop_id, product_id=product_id)
    plain = {"name": details.name, "kana": details.kana, "unit": details.unit, "category": details.category,
             "cold": values.cold}
    changed = sorted(field for field, value in plain.items() if getattr(product, field) != value)
    for field in changed:
        setattr(product, field, plain[field])
    if changed:
        session.flush()
        audit.record(session, at=now, actor=actor, channel="web", action="product.edit", subject_type="product",
                     subject_id=product.id, shop_id=shop_id, fields=changed)
    if details.price_yen != product.price_yen:
        service.set_price(session, product_id=product.id, price_yen=details.price_yen, **who)
    if details.stock != expected_stock:
        service.set_stock(session, product_id=product.id, new_stock=details.stock, expected=expected_stock, **who)
    if values.available != product.available:
        service.set_available(session, product_id=product.id, available=values.available, **who)
    return product
