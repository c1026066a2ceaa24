"""The catalogue (browse and search) and a shop's stock: set, adjust, sold out.

Stock rules (docs/design-notes.md, "Stock"): an order reserves with a guarded update (orders/stock.py); a
shop's form sets an absolute value as a compare-and-set against the value it showed, so a stale form
cannot wipe out orders placed since; a delta is guarded never to go below zero. Every change writes a
StockMovement, so ``initial + Σ delta == stock`` (an unlimited product, stock NULL, counts as 0).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from core import audit
from core.errors import DomainError
from shops.models import SHOP_KINDS, Product, Shop, StockMovement

MAX_STOCK = 99_999


class StockError(DomainError):
    """A shop's stock change was refused; nothing changed."""


_STOCK_MESSAGES = {
    "unknown_product": "その商品は見つかりませんでした。",
    "bad_stock": "在庫の数は0から99999までの数でお願いします。",
    "stale_stock": "在庫の数がほかで変わりました。画面を開き直して、もう一度入力してください。",
    "negative_stock": "在庫がマイナスになるため、変更できません。",
    "unlimited_stock": "この商品は在庫の数を数えていません。先に在庫の数を入れてください。",
    "bad_price": "値段は0円から100000円までの数でお願いします。",
}
MAX_PRICE_YEN = 100_000


def _error(code: str, **details: Any) -> StockError:
    error = StockError(code, _STOCK_MESSAGES[code], **details)
    if code == "stale_stock":
        error.http_status = 409
    return error


def stock_error(code: str, **details: Any) -> StockError:
    """The stock or price error ``code`` (its Japanese sentence), for other services that check first."""
    return _error(code, **details)


# ---- catalogue -------------------------------------------------------------------------------

def list_shops(session: Session, kind: str | None = None) -> list[Shop]:
    """Active shops in a stable order (the order staff entered them), optionally of one kind."""
    if kind is not None and kind not in SHOP_KINDS:
        raise ValueError(f"unknown shop kind {kind!r}")
    query = select(Shop).where(Shop.active.is_(True)).order_by(Shop.id)
    if kind is not None:
        query = query.where(Shop.kind == kind)
    return list(session.scalars(query))


def _on_sale(query: Any, include_unavailable: bool) -> Any:
    query = query.join(Shop, Shop.id == Product.shop_id).where(Shop.active.is_(True))
    return query if include_unavailable else query.where(Product.available.is_(True))


def product_by_id(session: Session, product_id: int) -> Product | None:
    """The product with this id, or None when there is none (a basket line left from a deleted one)."""
    return session.get(Product, product_id)


def shop_by_id(session: Session, shop_id: int) -> Shop | None:
    """The shop with this id, or None."""
    return session.get(Shop, shop_id)


def products_of_shop(session: Session, shop_id: int) -> list[Product]:
    """Every product of the shop, on sale or not, in the order it was entered."""
    return list(session.scalars(select(Product).where(Product.shop_id == shop_id).order_by(Product.id)))


def list_categories(session: Session, *, shop_id: int | None = None) -> list[str]:
    """Categories that have something on sale, in the order their first product was entered."""
    query = _on_sale(select(Product.category, func.min(Product.id).label("first")), False)
    if shop_id is not None:
        query = query.where(Product.shop_id == shop_id)
    rows = session.execute(query.group_by(Product.category).order_by("first")).all()
    return [row.category for row in rows]


def list_products(session: Session, *, shop_id: int | None = None, category: str | None = None,
                  include_unavailable: bool = False) -> list[Product]:
    query = _on_sale(select(Product), include_unavailable).order_by(Product.shop_id, Product.id)
    if shop_id is not None:
        query = query.where(Product.shop_id == shop_id)
    if category is not None:
        query = query.where(Product.category == category)
    return list(session.scalars(query))


@dataclass(frozen=True)
class Word:
    """What the free-text matcher needs of a product (``understanding.understand``'s ``Entry``)."""

    id: int
    name: str
    kana: str
    unit: str
    category: str
    shop_id: int


_WORD_ON_SALE = (Shop.active.is_(True), Product.available.is_(True))
# Same order as list_products: when two products share a name, the earlier one wins.
_WORD_COLUMNS = (Product.id, Product.name, Product.kana, Product.unit, Product.category, Product.shop_id)
# Prebuilt: the bot reads these on every typed order, and building a statement costs more than running it.
_WORDS = (select(*_WORD_COLUMNS).join(Shop, Shop.id == Product.shop_id)
          .where(*_WORD_ON_SALE).order_by(Product.shop_id, Product.id))
_WORDS_AMONG = (select(*_WORD_COLUMNS).join(Shop, Shop.id == Product.shop_id)
                .where(Product.id.in_(bindparam("ids", expanding=True)), *_WORD_ON_SALE)
                .order_by(Product.shop_id, Product.id))


def on_sale_words(session: Session) -> list[Word]:
    """The words of every product on sale (active shop, available), in catalogue order."""
    return [_word(row) for row in session.execute(_WORDS)]


def on_sale_words_among(session: Session, ids: Sequence[int]) -> list[Word]:
    """The words of the products among ``ids`` that are on sale now, in catalogue order."""
    if not ids:
        return []
    return [_word(row) for row in session.execute(_WORDS_AMONG, {"ids": list(dict.fromkeys(ids))})]


def _word(row: Any) -> Word:
    return Word(row.id, row.name, row.kana or "", row.unit or "", row.category or "", row.shop_id)


def normalise_text(text: str) -> str:
    """NFKC, katakana folded to hiragana, all spaces removed: 「ダイコン」「だい こん」「ﾀﾞｲｺﾝ」 match."""
    text = unicodedata.normalize("NFKC", text or "")
    folded = [chr(ord(ch) - 0x60) if "ァ" <= ch <= "ヶ" else ch for ch in text]
    return "".join(ch for ch in folded if not ch.isspace()).lower()


def search_products(session: Session, text: str, *, limit: int = 20,
                    include_unavailable: bool = False) -> list[Product]:
    """Products whose name or kana reading matches: exact, then prefix, then contains.

    Matching is done here rather than in SQL because folding kana and NFKC is not portable across
    SQLite and PostgreSQL, and a town's catalogue is a few hundred rows.
    """
    needle = normalise_text(text)
    if not needle:
        return []
    ranked: list[tuple[int, int, int, Product]] = []
    for product in list_products(session, include_unavailable=include_unavailable):
        rank = min(_rank(needle, normalise_text(product.name)), _rank(needle, normalise_text(product.kana)))
        if rank < 3:
            ranked.append((rank, len(product.name), product.id, product))
    ranked.sort(key=lambda entry: entry[:3])
    return [entry[3] for entry in ranked[:limit]]


def _rank(needle: str, hay: str) -> int:
    if hay == needle:
        return 0
    if hay.startswith(needle):
        return 1
    return 2 if needle in hay else 3


# ---- stock -----------------------------------------------------------------------------------

_UNSET: Any = object()


def _valid_stock(value: object) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool)
                             and 0 <= value <= MAX_STOCK)


def _ledger(session: Session, product: Product, delta: int, reason: str, actor: str,
            now: datetime) -> None:
    if delta:
        session.add(StockMovement(product_id=product.id, delta=delta, reason=reason, order_id=None,
                                  actor=actor, at=now))


def set_stock(session: Session, *, product_id: int, new_stock: int | None, actor: str, channel: str,
              now: datetime, expected: int | None = _UNSET) -> Product:
    """Set a product's stock to an absolute value (None = unlimited).

    With ``expected`` (the value the shop's form or LINE reply was based on) this is a compare-and-set:
    if orders or another person changed the stock since, it raises ``stale_stock`` instead of
    overwriting. Without it, the value read under the row lock is the base.
    """
    if not _valid_stock(new_stock):
        raise _error("bad_stock", product_id=product_id)
    product = session.scalars(
        select(Product).where(Product.id == product_id).with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if product is None:
        raise _error("unknown_product", product_id=product_id)
    base = product.stock if expected is _UNSET else expected
    if expected is not _UNSET and product.stock != expected:
        raise _error("stale_stock", product_id=product_id, current=product.stock, expected=expected)
    # Compare-and-set again in the statement itself, so correctness never rests on the lock alone.
    moved = session.execute(
        update(Product).where(Product.id == product_id, Product.stock.is_not_distinct_from(base))
        .values(stock=new_stock).execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        raise _error("stale_stock", product_id=product_id, expected=base)
    set_committed_value(product, "stock", new_stock)
    _ledger(session, product, (new_stock or 0) - (base or 0), "set", actor, now)
    audit.record(session, at=now, actor=actor, channel=channel, action="stock.set",
                 subject_type="product", subject_id=product_id, old=base, new=new_stock)
    return product


def adjust_stock(session: Session, *, product_id: int, delta: int, actor: str, channel: str,
                 now: datetime) -> Product:
    """Add (a delivery from the field) or remove (damaged, eaten) units; never below zero."""
    if not isinstance(delta, int) or isinstance(delta, bool) or abs(delta) > MAX_STOCK:
        raise _error("bad_stock", product_id=product_id)
    product = session.get(Product, product_id)
    if product is None:
        raise _error("unknown_product", product_id=product_id)
    row = session.execute(
        update(Product)
        .where(Product.id == product_id, Product.stock.is_not(None), Product.stock + delta >= 0,
               Product.stock + delta <= MAX_STOCK)
        .values(stock=Product.stock + delta).returning(Product.stock)
        .execution_options(synchronize_session=False)
    ).first()
    if row is None:
        session.refresh(product, ["stock"])
        raise _error("unlimited_stock" if product.stock is None else "negative_stock",
                     product_id=product_id, current=product.stock)
    set_committed_value(product, "stock", row[0])
    _ledger(session, product, delta, "adjust", actor, now)
    audit.record(session, at=now, actor=actor, channel=channel, action="stock.adjust",
                 subject_type="product", subject_id=product_id, delta=delta, new=row[0])
    return product


def set_available(session: Session, *, product_id: int, available: bool, actor: str, channel: str,
                  now: datetime) -> Product:
    """Take a product off sale (売り切れ / 取り扱い終了) or back on. Stock is left as it is."""
    product = session.get(Product, product_id)
    if product is None:
        raise _error("unknown_product", product_id=product_id)
    if product.available != bool(available):
        product.available = bool(available)
        audit.record(session, at=now, actor=actor, channel=channel, action="stock.available",
                     subject_type="product", subject_id=product_id, available=bool(available))
    return product


def find_shop_product(session: Session, *, shop_id: int, name: str) -> Product | None:
    """A shop's own product by what its owner types: the name or reading (width, kana and spaces
    folded), the name without its bracketed part (「りんご」 for 「りんご（ふじ）」), or the one product
    whose name starts with it. None when nothing, or more than one, fits."""
    wanted = normalise_text(name)
    if not wanted:
        return None
    products = list(session.scalars(select(Product).where(Product.shop_id == shop_id).order_by(Product.id)))
    for product in products:
        if wanted in (normalise_text(product.name), normalise_text(product.kana)):
            return product
    bare = [p for p in products if normalise_text(_without_brackets(p.name)) == wanted]
    if len(bare) == 1:
        return bare[0]
    starting = [p for p in products if normalise_text(p.name).startswith(wanted)
                or normalise_text(p.kana).startswith(wanted)]
    return starting[0] if len(starting) == 1 else None


def _without_brackets(name: str) -> str:
    text = unicodedata.normalize("NFKC", name)
    return text.split("(", 1)[0]


def set_price(session: Session, *, product_id: int, price_yen: int, actor: str, channel: str,
              now: datetime) -> Product:
    """A new price for new orders. Orders already placed keep the price they were quoted (their lines
    hold a snapshot). One absolute UPDATE: two owners setting prices at once leave one of the two values,
    never a mix."""
    if not isinstance(price_yen, int) or isinstance(price_yen, bool) or not 0 <= price_yen <= MAX_PRICE_YEN:
        raise _error("bad_price", product_id=product_id)
    row = session.execute(
        update(Product).where(Product.id == product_id).values(price_yen=price_yen)
        .returning(Product.price_yen).execution_options(synchronize_session=False)
    ).first()
    if row is None:
        raise _error("unknown_product", product_id=product_id)
    product = session.get(Product, product_id)
    assert product is not None
    set_committed_value(product, "price_yen", price_yen)
    audit.record(session, at=now, actor=actor, channel=channel, action="product.price",
                 subject_type="product", subject_id=product_id, new=price_yen)
    return product


def mark_sold_out(session: Session, *, product_id: int, actor: str, channel: str, now: datetime) -> Product:
    """「売り切れ」: a counted product's stock goes to 0 (through the ledger, like any set); an uncounted
    one (stock NULL, made to order) is taken off sale."""
    product = session.get(Product, product_id)
    if product is None:
        raise _error("unknown_product", product_id=product_id)
    if product.stock is None:
        return set_available(session, product_id=product_id, available=False, actor=actor, channel=channel,
                             now=now)
    return set_stock(session, product_id=product_id, new_stock=0, actor=actor, channel=channel, now=now)


def mark_back(session: Session, *, product_id: int, actor: str, channel: str, now: datetime,
              received: int = 0) -> Product:
    """「入荷」: back on sale, with ``received`` more units when a number was given (a guarded
    adjustment, so a concurrent order or change is never lost)."""
    product = set_available(session, product_id=product_id, available=True, actor=actor, channel=channel,
                            now=now)
    if received and product.stock is not None:   # an uncounted product has no number to add to
        product = adjust_stock(session, product_id=product_id, delta=received, actor=actor, channel=channel,
                               now=now)
    return product
