"""Previewing and applying a shop's CSV file against its products in the database (the reading itself is
``shops/csv_io.py``, pure). Applying is all or nothing: a file with any row error changes nothing, and so
does a file whose changes are no longer the ones previewed; otherwise every row goes through the same
services as the product page and LINE (compare-and-set stock, price, on sale), each a ledger movement
and an audit entry, in the caller's one transaction. A failure half-way raises, and the caller's
rollback undoes the rows before it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from core import audit
from core.errors import Conflict, DomainError
from shops import service
from shops.csv_io import Preview, read_csv
from shops.products import shop_products


class CsvImportError(DomainError):
    """The file was not applied; nothing changed."""


def preview_csv(session: Session, *, shop_id: int, text: str) -> Preview:
    """What the file would change in this shop, row by row, with every row's error."""
    return read_csv(text, shop_products(session, shop_id))


def apply_csv(session: Session, *, shop_id: int, text: str, digest: str, actor: str, now: datetime) -> int:
    """Apply a previewed file; returns the number of products changed.

    ``digest`` is the preview's fingerprint as the shop saw it: if the stock or a price changed since
    (an order came in), the shop is asked to look at the new preview instead of applying blind.
    Must be called inside one transaction, which the caller commits only when this returns."""
    preview = preview_csv(session, shop_id=shop_id, text=text)
    if preview.errors:
        raise CsvImportError("csv_errors", f"{len(preview.errors)}件のエラーがあるため、取り込んでいません。"
                             "エラーを直したファイルで、もう一度お試しください。", errors=len(preview.errors))
    if preview.digest() != digest:
        raise Conflict("csv_stale", "確認のあとで在庫や値段が変わりました。新しい確認画面を見てから取り込んでください。")
    who = dict(actor=actor, channel="web", now=now)
    for row in preview.changes:
        if row.price is not None:
            service.set_price(session, product_id=row.product_id, price_yen=row.price[1], **who)
        if row.stock is not None:
            # A compare-and-set against the value previewed: an order placed since is never overwritten.
            service.set_stock(session, product_id=row.product_id, new_stock=row.stock[1], expected=row.stock[0],
                              **who)
        if row.available is not None:
            service.set_available(session, product_id=row.product_id, available=row.available[1], **who)
    audit.record(session, at=now, actor=actor, channel="web", action="products.csv_import", subject_type="shop",
                 subject_id=shop_id, rows=len(preview.rows), changed=[row.product_id for row in preview.changes])
    return len(preview.changes)
