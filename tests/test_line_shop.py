"""Shops on LINE (issue #11): relative and absolute stock, price, sold out and back, 「今日の注文」,
through the real webhook with signed events; the rules (never below zero, nothing lost when two
changes meet) are shops.service's, with a race test and its negative control."""

from __future__ import annotations

import threading
from datetime import date
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from orders.service import LineItem, place_order
from core.db import db, is_sqlite
from shops.models import Product, ShopOwner, StockMovement
from tests.line_support import line_app, line_client, line_fake, seed_town, session_of  # noqa: F401
from tests.test_line_flows import Chat, wire

OWNER = "U5555555555555555555555555555shop"
OWNER_2 = "U5555555555555555555555555556shop"


def _owner(app: Any, town: Any, user: str = OWNER) -> None:
    with db.transaction(app) as s:
        s.add(ShopOwner(shop_id=town.shop_id, line_user_id=user, name="店主"))


def _product(app: Any, product_id: int) -> Product:
    with session_of(app) as s:
        product = s.get(Product, product_id)
        s.expunge(product)
        return product


def _ledger_balances(app: Any, product_id: int, initial: int) -> bool:
    with session_of(app) as s:
        moved = s.scalar(select(func.coalesce(func.sum(StockMovement.delta), 0))
                         .where(StockMovement.product_id == product_id))
        return initial + int(moved or 0) == s.get(Product, product_id).stock


def test_relative_and_absolute_stock_changes(line_app, line_client, line_fake) -> None:
    town = seed_town(line_app)              # 大根 20本, りんご 30個, 食パン (uncounted)
    _owner(line_app, town)
    chat = Chat(line_client, line_fake.fake, OWNER)
    assert "大根の在庫を5本ふやしました。いまの在庫は25本です" in wire(chat.say("大根 +5"))
    assert "2本へらしました。いまの在庫は23本です" in wire(chat.say("大根 -2"))
    assert "いまの在庫は26本" in wire(chat.say("だいこん　＋３"))           # reading, full-width sign
    assert "りんごの在庫を5個ふやしました" in wire(chat.say("りんごを5個追加"))
    assert "いまの在庫は37個" in wire(chat.say("りんご 2個追加"))
    assert "りんごの在庫を3個へらしました" in wire(chat.say("りんごを3個減らす"))
    assert "大根の在庫を10本にしました" in wire(chat.say("大根 10"))           # absolute, as before
    assert (_product(line_app, town.daikon_id).stock, _product(line_app, town.apple_id).stock) == (10, 34)
    assert _ledger_balances(line_app, town.daikon_id, 20) and _ledger_balances(line_app, town.apple_id, 30)


def test_stock_never_goes_below_zero(line_app, line_client, line_fake) -> None:
    town = seed_town(line_app)
    _owner(line_app, town)
    chat = Chat(line_client, line_fake.fake, OWNER)
    chat.say("大根 3")
    reply = wire(chat.say("大根 -5"))
    assert "マイナス" in reply and "いまの在庫は3本" in reply
    assert _product(line_app, town.daikon_id).stock == 3
    assert "数えていません" in wire(chat.say("食パン +2"))                    # uncounted: refused clearly
    assert _product(line_app, town.bread_id).stock is None


def test_price_applies_to_new_orders_only(line_app, line_client, line_fake) -> None:
    town = seed_town(line_app)
    _owner(line_app, town)
    now = line_app.extensions["core.clock"].now()
    with db.transaction(line_app) as s:
        before = place_order(s, resident_id=town.resident_id, items=[LineItem(town.daikon_id, 1)],
                             placed_by="staff:test", channel="staff", now=now)
        before_id, before_total = before.id, before.total_yen
    chat = Chat(line_client, line_fake.fake, OWNER)
    assert "大根の値段を180円にしました" in wire(chat.say("大根 180円"))
    assert _product(line_app, town.daikon_id).price_yen == 180
    assert "値段は0円から100000円まで" in wire(chat.say("大根 1000000円"))
    assert _product(line_app, town.daikon_id).price_yen == 180
    with session_of(line_app) as s:
        from orders.models import Order
        assert s.get(Order, before_id).total_yen == before_total        # placed at 150円: unchanged
    assert "（180円）" in wire(chat.say("在庫"))


def test_sold_out_and_back(line_app, line_client, line_fake) -> None:
    town = seed_town(line_app)
    _owner(line_app, town)
    chat = Chat(line_client, line_fake.fake, OWNER)
    assert "大根を売り切れにしました" in wire(chat.say("売り切れ 大根"))
    assert _product(line_app, town.daikon_id).stock == 0
    back = wire(chat.say("大根 入荷"))
    assert "販売を再開しました" in back and "数も送ってください" in back      # 0本 left: ask for the number
    assert "いまの在庫は8本" in wire(chat.say("大根を8本入荷"))
    assert "食パンを売り切れにしました" in wire(chat.say("食パン 売り切れ"))  # uncounted: off sale
    assert _product(line_app, town.bread_id).available is False
    assert "食パンの販売を再開しました" in wire(chat.say("食パン 入荷"))
    bread = _product(line_app, town.bread_id)
    assert bread.available is True and bread.stock is None


def test_unknown_product_is_named_with_the_shops_own(line_app, line_client, line_fake) -> None:
    town = seed_town(line_app)
    _owner(line_app, town)
    chat = Chat(line_client, line_fake.fake, OWNER)
    for text in ("みかん +3", "みかん 150円", "売り切れ みかん", "みかん 3"):
        reply = wire(chat.say(text))
        assert "「みかん」という商品は、このお店に見つかりませんでした" in reply, text
        assert "大根、りんご、食パン" in reply
    assert "商品の変え方" in wire(chat.say("こんにちは"))


def test_todays_orders_before_and_after_planning(line_app, line_client, line_fake) -> None:
    from delivery.runner import plan_day
    from tests import factories
    town = seed_town(line_app)
    _owner(line_app, town)
    now = line_app.extensions["core.clock"].now()
    with db.transaction(line_app) as s:
        factories.make_vehicle(s)
        order = place_order(s, resident_id=town.resident_id, items=[LineItem(town.daikon_id, 2),
                            LineItem(town.apple_id, 3)], placed_by="staff:test", channel="staff", now=now)
        order_id, day = order.id, order.delivery_date
    assert day == date(2026, 12, 1)
    chat = Chat(line_client, line_fake.fake, OWNER)
    early = wire(chat.say("今日の注文"))
    assert "【今日の注文】12月1日" in early and f"大根 2本（注文番号 {order_id}）" in early
    assert "長井 花子" not in early                                   # never a resident's name
    plan_day(line_app, delivery_date=day, actor="staff:test", time_limit_s=1)
    listed = wire(chat.say("今日の注文"))
    assert "【集荷リスト】" in listed and f"りんご 3個（注文番号 {order_id}）" in listed and "ごろ集荷" in listed


def test_two_owners_adding_at_once_lose_nothing(line_app, line_fake) -> None:
    town = seed_town(line_app)
    _owner(line_app, town)
    _owner(line_app, town, OWNER_2)
    rounds = 4
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def owner(user: str) -> None:
        try:
            chat = Chat(line_app.test_client(), line_fake.fake, user)
            start.wait()
            for _ in range(rounds):
                chat.say("大根 +1")
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=owner, args=(u,)) for u in (OWNER, OWNER_2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert _product(line_app, town.daikon_id).stock == 20 + 2 * rounds
    assert _ledger_balances(line_app, town.daikon_id, 20)


def test_negative_control_naive_read_then_write_loses_additions(line_app) -> None:
    """The race the guarded UPDATE in shops.service.adjust_stock prevents: read the stock, then write
    stock + n. Everyone reads before anyone writes (made deterministic with a barrier)."""
    town = seed_town(line_app)
    url = line_app.config["DATABASE_URL"]
    engine = (create_engine(url, poolclass=NullPool, connect_args={"timeout": 30, "check_same_thread": False})
              if is_sqlite(url) else create_engine(url, poolclass=NullPool))
    owners = 4
    read_done = threading.Barrier(owners)

    def naive_add(_: int) -> None:
        with Session(engine) as session:
            stock = session.scalar(select(Product.stock).where(Product.id == town.daikon_id))
            read_done.wait()
            session.execute(update(Product).where(Product.id == town.daikon_id).values(stock=stock + 1))
            session.commit()

    threads = [threading.Thread(target=naive_add, args=(i,)) for i in range(owners)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        engine.dispose()
    final = _product(line_app, town.daikon_id).stock
    assert final is not None and final < 20 + owners, "the naive control should lose additions"


@pytest.mark.parametrize("text,kind,name,number", [
    ("大根 +5", "adjust", "大根", 5), ("大根 -2", "adjust", "大根", -2), ("大根−2", "adjust", "大根", -2),
    ("白菜を5個追加", "adjust", "白菜", 5), ("大根 10", "set", "大根", 10), ("大根 10本", "set", "大根", 10),
    ("大根 150円", "price", "大根", 150), ("大根を150円にする", "price", "大根", 150),
    ("売り切れ 大根", "sold_out", "大根", 0), ("大根 売り切れ", "sold_out", "大根", 0),
    ("大根 入荷", "back", "大根", 0), ("大根を10本入荷", "adjust", "大根", 10), ("在庫", "list", "", 0),
    ("今日の注文", "today", "", 0), ("卵（6個） 5", "set", "卵(6個)", 5),
])
def test_shop_words(text: str, kind: str, name: str, number: int) -> None:
    from bot.conversation.shop import Command, parse
    assert parse(text) == Command(kind, name, number)
