"""Two shops with products and a signed-in shop account for the first, for the shop pages' tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from core.db import db
from core.models import AuditEntry
from shops.models import Product, StockMovement
from tests.accounts_support import csrf_of, sign_in
from tests.factories import make_product, make_shop


@dataclass(frozen=True)
class Shops:
    mine: int
    theirs: int
    daikon: int         # 大根 20本, 150円 (mine)
    apple: int          # りんご 30個, 100円 (mine)
    bread: int          # 食パン, not counted (mine)
    cabbage: int        # 白菜 8玉 (theirs)


@pytest.fixture
def shops(app, session, tmp_path) -> Shops:  # type: ignore[no-untyped-def]
    app.config["PHOTO_FOLDER"] = str(tmp_path / "photos")
    mine = make_shop(session, name="みどり直売所", kana="みどりちょくばいじょ")
    theirs = make_shop(session, name="本町商店", kana="ほんまちしょうてん")
    daikon = make_product(session, mine, name="大根", kana="だいこん", unit="本", price_yen=150, stock=20)
    apple = make_product(session, mine, name="りんご", kana="りんご", unit="個", price_yen=100, stock=30,
                         category="果物")
    bread = make_product(session, mine, name="食パン", kana="しょくぱん", unit="斤", price_yen=300, stock=None)
    cabbage = make_product(session, theirs, name="白菜", kana="はくさい", unit="玉", price_yen=200, stock=8)
    session.commit()
    ids = Shops(mine.id, theirs.id, daikon.id, apple.id, bread.id, cabbage.id)
    session.rollback()
    return ids


@pytest.fixture
def shop_client(app, shops):  # type: ignore[no-untyped-def]
    client = app.test_client()
    sign_in(client, "shop", email="midori@test.example", shop_id=shops.mine)
    return client


def token(client: Any, url: str = "/shop/products") -> str:
    return csrf_of(client.get(url).get_data(as_text=True))


def post(client: Any, url: str, **data: Any):  # type: ignore[no-untyped-def]
    data.setdefault("csrf_token", token(client))
    return client.post(url, data=data)


def product(app: Any, product_id: int) -> Product:
    with db.reading(app) as s:
        found = s.get(Product, product_id)
        s.expunge(found)
        return found


def ledger_sum(app: Any, product_id: int) -> int:
    with db.reading(app) as s:
        return int(s.scalar(select(func.coalesce(func.sum(StockMovement.delta), 0))
                            .where(StockMovement.product_id == product_id)) or 0)


def audit_actions(app: Any, product_id: int) -> list[str]:
    with db.reading(app) as s:
        return list(s.scalars(select(AuditEntry.action).where(AuditEntry.subject_type == "product",
                                                              AuditEntry.subject_id == str(product_id))
                              .order_by(AuditEntry.id)))


def flashes(client: Any) -> str:
    return client.get("/shop/products").get_data(as_text=True)
