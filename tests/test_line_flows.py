"""Whole conversations replayed through /line/callback with the SDK pointed at the fake LINE API:
registration, ordering by buttons and by free text, いつもの, cancel, family, shop stock, link codes.
Assertions are on the database and on what the fake LINE API received."""

from __future__ import annotations

import json
from typing import Any

from linebot.v3.messaging import ReplyMessageRequest
from sqlalchemy import select

from orders.models import Order, OrderStatus
from residents.models import FamilyLink, Resident
from shops.models import Product, ShopOwner
from tests.line_support import (  # noqa: F401  (fixtures)
    RESIDENT_USER, Town, body, line_app, line_client, line_fake, post, seed_town, session_of,
)

FAMILY_USER = "U99999999999999999999999999999fam"
SHOP_USER = "U5555555555555555555555555555shop"
NEW_USER = "U77777777777777777777777777777new"


class Chat:
    """One LINE user talking to the bot; each call posts one signed event and returns the reply."""

    def __init__(self, client: Any, fake: Any, user: str) -> None:
        self.client, self.fake, self.user = client, fake, user

    def _send(self, name: str, **values: Any) -> list[dict[str, Any]]:
        before = len(self.fake.calls)
        response = post(self.client, body(name, user=self.user, **values))
        assert response.status_code == 200
        new = [c for c in self.fake.calls[before:] if c.path.endswith("/message/reply")]
        assert new and all(c.status == 200 for c in new), [c.body for c in new]
        ReplyMessageRequest.from_dict(new[-1].body)
        return new[-1].body["messages"]

    def say(self, text: str) -> list[dict[str, Any]]:
        return self._send("text", text=text)

    def tap(self, data: str) -> list[dict[str, Any]]:
        return self._send("postback", data=data)

    def pin(self, lat: float, lon: float) -> list[dict[str, Any]]:
        return self._send("location", lat=lat, lon=lon)

    def follow(self) -> list[dict[str, Any]]:
        return self._send("follow")


def wire(messages: list[dict[str, Any]]) -> str:
    return json.dumps(messages, ensure_ascii=False)


def actions(messages: list[dict[str, Any]]) -> dict[str, str]:
    """label → data (or text) of every quick-reply and Flex button in the messages."""
    found: dict[str, str] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("postback", "message") and "label" in node:
                found[node["label"]] = node.get("data") or node.get("text", "")
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(messages)
    return found


def orders(app: Any) -> list[Order]:
    with session_of(app) as s:
        result = list(s.scalars(select(Order).order_by(Order.id)))
        for o in result:
            _ = o.lines
        return result


def stock(app: Any, product_id: int) -> int | None:
    with session_of(app) as s:
        return s.get(Product, product_id).stock  # type: ignore[union-attr]


def test_registration_over_line(line_app, line_client, line_fake) -> None:
    town = seed_town(line_app)
    chat = Chat(line_client, line_fake.fake, NEW_USER)
    assert "登録する" in actions(chat.follow())
    assert "お名前" in wire(chat.tap(actions(chat.follow())["登録する"]))
    assert "ふりがな" in wire(chat.say("置賜 ハナ"))
    reply = chat.say("おいたま はな")
    assert "地区" in wire(reply)
    assert "ご住所" in wire(chat.tap(actions(reply)["中央"])) and town.district_id
    reply = chat.say("長井市本町2-3-4")
    assert any(i["action"]["type"] == "location" for i in reply[0]["quickReply"]["items"])
    assert "お電話" in wire(chat.pin(38.1081, 140.0412))
    reply = chat.say("0238-88-1234")
    assert "同意" in wire(reply) and "長井市本町2-3-4" in wire(reply)
    assert "ありがとうございます" in wire(chat.tap(actions(reply)["同意して登録する"]))
    with session_of(line_app) as s:
        resident = s.scalars(select(Resident).where(Resident.line_user_id == NEW_USER)).one()
        assert (resident.name, resident.address, resident.district_id) == ("置賜 ハナ", "長井市本町2-3-4", town.district_id)
        assert resident.phone == "+81238881234" and resident.lat == 38.1081 and resident.consented_at


def test_full_order_by_buttons(line_app, line_client, line_fake) -> None:
    town = seed_town(line_app)
    chat = Chat(line_client, line_fake.fake, RESIDENT_USER)
    menu = chat.say("最初から")
    assert {"注文する", "いつもの", "注文の確認", "電話で相談"} <= set(actions(menu))
    shops = chat.tap(actions(menu)["注文する"])
    assert shops[0]["type"] == "flex" and "本町青果" in wire(shops)
    cats = chat.tap(actions(shops)["このお店を見る"])        # the shop's products, categories as filters
    assert {"野菜", "果物", "パン", "ほかのお店を見る", "戻る", "最初から"} <= set(actions(cats))
    products = chat.tap(actions(cats)["野菜"])
    assert "150円（1本）" in wire(products) and "残り20本" in wire(products)
    assert {"1本", "2本", "3本"} <= set(actions(products))   # quantities on the card add at once
    qty = chat.tap(actions(products)["ほかの数"])
    assert "いくつ" in wire(qty) and "戻る" in actions(qty)
    card = chat.say("３")                                 # full-width digit typed
    assert "大根 3本" in wire(card) and orders(line_app) == []   # the order card; nothing placed yet
    same_shop = chat.tap(actions(card)["ほかの商品も買う"])
    assert "りんご" in wire(same_shop) and "このお店を見る" not in actions(same_shop)
    chat.tap(f"a=prods&s={town.shop_id}&c=果物")
    chat.tap(f"a=qty&p={town.apple_id}")
    quote = chat.say("二")                                # a kanji numeral
    assert "りんご 2個" in wire(quote)
    text = wire(quote)
    assert "合計 790円" in text and "12月1日（火）" in text and "13:00〜17:00" in text
    done = chat.tap(actions(quote)["この内容で注文する"])
    assert "承りました" in wire(done)
    [order] = orders(line_app)
    assert order.placed_by == f"resident:{town.resident_id}" and order.channel == "line"
    assert sorted((l.product_id, l.quantity) for l in order.lines) == [(town.daikon_id, 3), (town.apple_id, 2)]
    assert order.total_yen == 790 and order.idempotency_key.startswith("line:")
    assert stock(line_app, town.daikon_id) == 17 and stock(line_app, town.apple_id) == 28


def test_free_text_order_is_confirmed_back(line_app, line_client, line_fake) -> None:
    town = seed_town(line_app)
    chat = Chat(line_client, line_fake.fake, RESIDENT_USER)
    quote = chat.say("大根2本とりんご3個")
    text = wire(quote)
    assert "大根 2本" in text and "りんご 3個" in text and "合計 760円" in text
    assert orders(line_app) == []                        # nothing counts before 確定
    chat.tap(actions(quote)["この内容で注文する"])
    [order] = orders(line_app)
    assert sorted((l.product_id, l.quantity) for l in order.lines) == [(town.daikon_id, 2), (town.apple_id, 3)]


def test_free_text_never_orders_from_cached_words(line_app, line_client, line_fake) -> None:
    """The matcher's words are cached per process; what goes in the basket is matched against fresh rows."""
    town = seed_town(line_app)
    chat = Chat(line_client, line_fake.fake, RESIDENT_USER)
    assert "大根 2本" in wire(chat.say("大根2本"))               # the words are cached now
    with session_of(line_app) as s:
        s.get(Product, town.daikon_id).available = False  # type: ignore[union-attr]
        s.get(Product, town.apple_id).name = "ふじりんご"   # type: ignore[union-attr]
        s.commit()
    chat.tap("a=clear")
    assert "合計" not in wire(chat.say("大根2本"))               # off sale: not quoted from the cache
    reply = wire(chat.say("りんご1個"))                          # still its kana reading りんご
    assert "ふじりんご 1個" in reply and "大根" not in reply      # the fresh name, nothing stale


def test_free_text_bad_quantity_is_explained(line_app, line_client, line_fake) -> None:
    seed_town(line_app)
    chat = Chat(line_client, line_fake.fake, RESIDENT_USER)
    assert "半分" in wire(chat.say("大根半分"))
    assert orders(line_app) == []


def test_usual_in_two_taps_names_sold_out_items(line_app, line_client, line_fake) -> None:
    town = seed_town(line_app)
    chat = Chat(line_client, line_fake.fake, RESIDENT_USER)
    chat.tap(actions(chat.say("大根1本と食パン1斤"))["この内容で注文する"])
    with session_of(line_app) as s:
        s.get(Product, town.bread_id).available = False  # type: ignore[union-attr]
        s.commit()
    # The next day (today's order is closed by then: no addition, a new order).
    from datetime import timedelta
    from tests.line_support import NOW_MS
    line_app.extensions["core.clock"].advance(timedelta(days=1))
    tomorrow = NOW_MS + 24 * 3600 * 1000
    usual = chat._send("postback", data="a=usual", ts=tomorrow)   # tap 1 (rich menu いつもの)
    assert "食パン" in wire(usual) and "大根 1本" in wire(usual)
    done = chat._send("postback", data=actions(usual)["確定"], ts=tomorrow)   # tap 2
    assert "承りました" in wire(done)
    first, second = orders(line_app)
    assert [(l.product_id, l.quantity) for l in second.lines] == [(town.daikon_id, 1)]
    assert second.delivery_date > first.delivery_date


def test_check_and_cancel_until_cutoff(line_app, line_client, line_fake) -> None:
    town = seed_town(line_app)
    chat = Chat(line_client, line_fake.fake, RESIDENT_USER)
    chat.tap(actions(chat.say("大根5本"))["この内容で注文する"])
    assert stock(line_app, town.daikon_id) == 15
    status = chat.say("注文の確認")
    assert "注文確定" in wire(status) and "大根 5本" in wire(status)
    ask = chat.tap(actions(status)["取り消す"])
    done = chat.tap(actions(ask)["はい、取り消す"])
    assert "取り消しました" in wire(done)
    [order] = orders(line_app)
    assert order.status is OrderStatus.CANCELLED and stock(line_app, town.daikon_id) == 20
    # The same tap again (a double tap) is answered politely and changes nothing.
    assert "取り消し済み" in wire(chat.tap(actions(ask)["はい、取り消す"]))
    assert stock(line_app, town.daikon_id) == 20


def test_change_an_order(line_app, line_client, line_fake) -> None:
    town = seed_town(line_app)
    chat = Chat(line_client, line_fake.fake, RESIDENT_USER)
    chat.tap(actions(chat.say("大根1本"))["この内容で注文する"])
    status = chat.say("確認")
    basket = chat.tap(actions(status)["内容を変える"])
    assert "変更" in wire(basket)
    chat.tap(f"a=add&p={town.apple_id}&q=2")
    quote = chat.tap("a=quote")
    assert "変更しますか" in wire(quote)
    chat.tap(actions(quote)["この内容で注文する"])
    [order] = orders(line_app)
    assert sorted((l.product_id, l.quantity) for l in order.lines) == [(town.daikon_id, 1), (town.apple_id, 2)]


def test_family_member_orders_for_the_resident(line_app, line_client, line_fake) -> None:
    from links.service import issue_code
    from core.db import db
    town = seed_town(line_app)
    with db.transaction(line_app) as s:
        code = issue_code(s, purpose="family", target_id=town.resident_id, actor="staff:test",
                          now=line_app.extensions["core.clock"].now()).code
    chat = Chat(line_client, line_fake.fake, FAMILY_USER)
    chat.follow()
    assert "コード" in wire(chat.tap("a=link"))
    assert "ご家族" in wire(chat.say(code.lower()))
    menu = chat.say("最初から")
    assert "長井 花子" in wire(menu)
    chat.tap(actions(chat.say("りんご4個"))["この内容で注文する"])
    [order] = orders(line_app)
    with session_of(line_app) as s:
        link = s.scalars(select(FamilyLink).where(FamilyLink.line_user_id == FAMILY_USER)).one()
    assert order.resident_id == town.resident_id and order.placed_by == f"family:{link.id}"


def test_shop_owner_updates_stock_in_chat(line_app, line_client, line_fake) -> None:
    from core.db import db
    town = seed_town(line_app)
    with db.transaction(line_app) as s:
        s.add(ShopOwner(shop_id=town.shop_id, line_user_id=SHOP_USER, name="店主"))
    chat = Chat(line_client, line_fake.fake, SHOP_USER)
    assert "35本にしました" in wire(chat.say("大根 35"))
    assert stock(line_app, town.daikon_id) == 35
    assert "売り切れにしました" in wire(chat.say("りんご　売り切れ"))
    assert stock(line_app, town.apple_id) == 0
    listing = wire(chat.say("在庫"))
    assert "大根：35本" in listing and "りんご：売り切れ" in listing
    assert "見つかりませんでした" in wire(chat.say("みかん 3"))


def test_help_gives_the_coordinator_phone(line_app, line_client, line_fake) -> None:
    seed_town(line_app)
    chat = Chat(line_client, line_fake.fake, RESIDENT_USER)
    assert "0238-84-2111" in wire(chat.say("電話で相談"))


def test_never_more_than_13_quick_replies_or_12_bubbles(line_app, line_client, line_fake) -> None:
    from core.db import db
    from tests import factories
    town = seed_town(line_app)
    with db.transaction(line_app) as s:
        shop = factories.make_shop(s, name="なんでも屋")
        for i in range(16):
            factories.make_product(s, shop, name=f"品物{i}", kana=f"しなもの{i}", category=f"種類{i}")
            factories.make_product(s, shop, name=f"野菜{i}", kana=f"やさい{i}", category="野菜")
        for i in range(14):
            factories.make_shop(s, name=f"店{i}")
        shop_id = shop.id
    chat = Chat(line_client, line_fake.fake, RESIDENT_USER)
    chat.tap("a=shops")
    chat.tap(f"a=cats&s={shop_id}")
    chat.tap(f"a=prods&s={shop_id}&c=野菜")
    chat.tap(f"a=prods&s={shop_id}&c=野菜&pg=1")
    chat.tap(f"a=qty&p={town.daikon_id}")
    for call in line_fake.fake.calls:
        for message in call.body.get("messages", []):
            assert len((message.get("quickReply") or {}).get("items", [])) <= 13
            contents = message.get("contents") or {}
            assert len(contents.get("contents", [])) <= 12 if contents.get("type") == "carousel" else True
    assert all(c.status == 200 for c in line_fake.fake.calls)


DRIVER_USER = "U3333333333333333333333333driver"


def test_driver_gets_the_run_and_records_not_at_home(line_app, line_client, line_fake) -> None:
    from datetime import datetime

    from delivery.models import Plan, Run, RunStop
    from core.clock import JST
    from core.db import db
    from tests import factories
    town = seed_town(line_app)
    resident_chat = Chat(line_client, line_fake.fake, RESIDENT_USER)
    resident_chat.tap(actions(resident_chat.say("大根1本"))["この内容で注文する"])
    [order] = orders(line_app)
    now = line_app.extensions["core.clock"].now()
    with db.transaction(line_app) as s:
        vehicle = factories.make_vehicle(s)
        driver = factories.make_driver(s, vehicle, line_user_id=DRIVER_USER)
        plan = Plan(delivery_date=order.delivery_date, version=1, active=True, trigger="test",
                    created_by="test", created_at=now)
        s.add(plan)
        s.flush()
        run = Run(plan_id=plan.id, vehicle_id=vehicle.id, driver_id=driver.id, districts="中央",
                  start_at=datetime(2026, 12, 1, 13, 0, tzinfo=JST), end_at=datetime(2026, 12, 1, 15, 0, tzinfo=JST),
                  distance_m=5000, duration_s=7200)
        s.add(run)
        s.flush()
        stop = RunStop(run_id=run.id, seq=1, kind="delivery", order_ids=[order.id], lat=38.1085, lon=140.0415,
                       eta=datetime(2026, 12, 1, 13, 30, tzinfo=JST), window_start="13:00", window_end="17:00",
                       service_s=300)
        s.add(stop)
        s.flush()
        stop_id = stop.id
    # ETA on the day: the same window as the ETA notice (15 min before to 30 after, inside 13:00–17:00)
    assert "今日の到着予定：13:15〜14:00ごろ" in wire(resident_chat.say("注文の確認"))
    chat = Chat(line_client, line_fake.fake, DRIVER_USER)
    run_view = chat.say("配達")
    text = wire(run_view)
    assert "13:30ごろ" in text and "長井 花子" in text and "集金：250円" in text and "google.com/maps" in text
    done = chat.tap(actions(run_view)["不在"])
    assert "不在を記録しました" in wire(done)
    with session_of(line_app) as s:
        assert s.get(RunStop, stop_id).status == "not_at_home"
        assert s.get(Order, order.id).status is OrderStatus.NOT_AT_HOME
    assert town.resident_id


def test_cancel_after_the_cutoff_is_refused_politely(line_app, line_client, line_fake) -> None:
    from datetime import timedelta
    seed_town(line_app)
    chat = Chat(line_client, line_fake.fake, RESIDENT_USER)
    chat.tap(actions(chat.say("大根1本"))["この内容で注文する"])
    [order] = orders(line_app)
    line_app.extensions["core.clock"].advance(timedelta(hours=3))      # 11:00, past the 10:00 cutoff
    from tests.line_support import NOW_MS
    later = NOW_MS + 3 * 3600 * 1000
    status = chat._send("text", text="注文の確認", ts=later)
    assert "取り消す" not in actions(status)
    reply = chat._send("postback", data=f"a=cancelok&o={order.id}", ts=later)
    assert "締め切り" in wire(reply)
    assert orders(line_app)[0].status is OrderStatus.CONFIRMED


def test_outer_district_resident_chooses_the_time_window(line_app, line_client, line_fake) -> None:
    from core.db import db
    from tests import factories
    town = seed_town(line_app)
    user = "U4444444444444444444444444outer"
    with db.transaction(line_app) as s:
        outer = factories.make_outer_district(s)
        factories.make_resident(s, outer, line_user_id=user)
    chat = Chat(line_client, line_fake.fake, user)
    card = chat.say("りんご2個")
    choice = actions(card)
    # One card: the day and total, and one confirm button per window (choosing is confirming).
    assert {"午前 09:00〜12:00で注文", "午後 13:00〜17:00で注文", "時間指定なしで注文"} <= set(choice)
    assert "12月4日（金）" in wire(card) and "合計" in wire(card) and orders(line_app) == []
    chat.tap(choice["午前 09:00〜12:00で注文"])
    [order] = orders(line_app)
    assert order.window_code == "am" and order.lines[0].product_id == town.apple_id


def test_outer_district_resident_can_leave_the_time_open(line_app, line_client, line_fake) -> None:
    from core.db import db
    from tests import factories
    seed_town(line_app)
    user = "U4444444444444444444444444anyt1"
    with db.transaction(line_app) as s:
        outer = factories.make_outer_district(s)
        factories.make_resident(s, outer, line_user_id=user)
    chat = Chat(line_client, line_fake.fake, user)
    done = chat.tap(actions(chat.say("りんご2個"))["時間指定なしで注文"])
    assert "09:00〜17:00" in wire(done) and "承りました" in wire(done)
    [order] = orders(line_app)
    assert (order.window_code, order.window_start, order.window_end) == ("any", "09:00", "17:00")


def test_resident_registered_by_staff_links_with_code_and_phone(line_app, line_client, line_fake) -> None:
    from core.db import db
    from links.service import issue_code
    from tests import factories
    seed_town(line_app)
    user = "U6666666666666666666666666staff"
    now = line_app.extensions["core.clock"].now()
    with db.transaction(line_app) as s:
        resident = factories.make_resident(s, phone="+81238881111", line_user_id=None)
        code = issue_code(s, purpose="resident", target_id=resident.id, actor="staff:test", now=now).code
        resident_id = resident.id
    chat = Chat(line_client, line_fake.fake, user)
    chat.tap("a=link")
    assert "お電話番号" in wire(chat.say(f"{code[:3]} {code[3:]}"))
    assert "一致しませんでした" in wire(chat.say("0238-88-2222"))
    assert "LINEとつながりました" in wire(chat.say("０２３８－８８－１１１１"))
    with session_of(line_app) as s:
        assert s.get(Resident, resident_id).line_user_id == user


def test_wrong_codes_lock_the_chat_for_a_while(line_app, line_client, line_fake) -> None:
    from datetime import timedelta
    from tests.line_support import NOW_MS
    seed_town(line_app)
    chat = Chat(line_client, line_fake.fake, "U8888888888888888888888888guess")
    chat.tap("a=link")
    for guess in range(4):
        assert "見つかりませんでした" in wire(chat.say(f"{100000 + guess}"))
    assert "しばらくお待ちください" in wire(chat.say("100004"))
    chat.follow()                                             # unfollow/follow does not reset it
    chat.tap("a=link")
    assert "しばらくお待ちください" in wire(chat.say("100005"))
    line_app.extensions["core.clock"].advance(timedelta(hours=2))
    later = NOW_MS + 2 * 3600 * 1000
    chat._send("postback", data="a=link", ts=later)
    assert "見つかりませんでした" in wire(chat._send("text", text="100006", ts=later))


def test_a_change_keeps_its_window_and_asks_for_none(line_app, line_client, line_fake) -> None:
    from core.db import db
    from tests import factories
    town = seed_town(line_app)
    user = "U4444444444444444444444444chang"
    with db.transaction(line_app) as s:
        outer = factories.make_outer_district(s)
        factories.make_resident(s, outer, line_user_id=user)
    chat = Chat(line_client, line_fake.fake, user)
    chat.tap(actions(chat.say("りんご2個"))["午前 09:00〜12:00で注文"])
    basket = chat.tap(actions(chat.say("確認"))["内容を変える"])
    card = chat.tap(f"a=add&p={town.apple_id}&q=1")
    offered = actions(card)
    assert "変更しますか" in wire(card) and "午前（09:00〜12:00）" in wire(card) and basket
    assert "この内容で注文する" in offered and not any(k.endswith("で注文") for k in offered)
    chat.tap(offered["この内容で注文する"])
    [order] = orders(line_app)
    assert order.window_code == "am" and [(l.product_id, l.quantity) for l in order.lines] == [(town.apple_id, 3)]
