"""Phone prompts a caller can hold in mind (issue #11): at most four choices at a time with 9 for the
next ones, order numbers in 注文の確認 and before a cancel, names read naturally (nothing in brackets),
and an unknown caller told when no person answered. Asserted on the TwiML the real handlers return."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from orders.models import Order, OrderStatus
from core.db import db
from tests.voice_sim import RESIDENT_PHONE, UNKNOWN_PHONE, CallSim, seed_town, voice_app
from voice.twiml import spoken_sentences

__all__ = ["voice_app"]


def _keys_offered(said: str) -> list[int]:
    """The numbered choices in a prompt: 「大根、1本150円は1。」 → 1."""
    return [int(k) for k in re.findall(r"は([1-8])。", said)]


def test_lists_offer_four_at_a_time_and_nine_hears_the_next(voice_app: Any) -> None:
    from shops.models import Shop
    from tests import factories as f
    town = seed_town(voice_app, with_history=False)
    with db.transaction(voice_app) as session:
        farm = session.get(Shop, town.shop_ids[0])
        for n, name in enumerate(("白菜", "ごぼう", "長ねぎ", "里芋")):
            f.make_product(session, farm, name=name, kana=f"やさい{n}", price_yen=100 + n)
    call = CallSim(voice_app.test_client(), RESIDENT_PHONE)
    call.dial_in()
    call.press("2")
    first = "".join(call.press("1").said)                 # 野菜: 大根, 人参 and four more
    assert _keys_offered(first) == [1, 2, 3, 4] and first.endswith("ほかの商品は9。")
    second = "".join(call.press("9").said)
    assert _keys_offered(second) == [1, 2] and "ほかの商品は9" not in second
    assert "大根" not in second
    chosen = "".join(call.press("1").said)                # key 1 on the second page is its first item
    assert "長ねぎですね" in chosen
    # Every list the caller met had at most four numbered choices.
    for said in call.transcript:
        assert len(_keys_offered(said)) <= 4, said


def test_order_check_speaks_each_number_and_again_before_cancel(voice_app: Any) -> None:
    from orders.service import LineItem, place_order
    town = seed_town(voice_app, with_history=False)
    now = voice_app.extensions["core.clock"].now()
    ids = []
    for _ in range(2):    # two similar orders for the same day: only their numbers tell them apart
        with db.transaction(voice_app) as session:
            ids.append(place_order(session, resident_id=town.resident_id, placed_by="staff:test", channel="staff",
                                   items=[LineItem(town.product_ids["大根"], 1)], now=now).id)
    call = CallSim(voice_app.test_client(), RESIDENT_PHONE)
    call.dial_in()
    first = "".join(call.press("3").said)
    assert f"注文番号{ids[1]}番" in first or f"注文番号{ids[0]}番" in first
    heard_first = ids[1] if f"注文番号{ids[1]}番" in first else ids[0]
    other = ids[0] if heard_first == ids[1] else ids[1]
    second = "".join(call.press("2").said)
    assert f"注文番号{other}番" in second
    confirm = "".join(call.press("1").said)
    assert f"注文番号{other}番のご注文を取り消します" in confirm
    done = "".join(call.press("1").said)
    assert f"注文番号{other}番のご注文を取り消しました" in done
    with db.reading(voice_app) as session:
        statuses = {o.id: o.status for o in session.scalars(select(Order))}
    assert statuses[other] is OrderStatus.CANCELLED and statuses[heard_first] is OrderStatus.CONFIRMED


def test_names_are_read_naturally(voice_app: Any) -> None:
    from tests import factories as f
    from shops.models import Shop
    town = seed_town(voice_app, with_history=False)
    with db.transaction(voice_app) as session:
        store = session.get(Shop, town.shop_ids[1])
        f.make_product(session, store, name="卵（6個）", kana="たまご", category="野菜", unit="パック",
                       price_yen=200, stock=5)
        greengrocer = f.make_shop(session, name="あやめ青果店", kana="あやめせいかてん")
        f.make_product(session, greengrocer, name="大根", kana="だいこん", price_yen=130)
    call = CallSim(voice_app.test_client(), RESIDENT_PHONE)
    call.dial_in()
    call.press("2")
    veg = call.press("1")
    said = "".join(veg.said)
    assert "あやめ青果店の大根、1本130円" in said and "やまびこ直売所の大根" in said
    listing = said + "".join(call.press("9").said)
    assert "卵 6個入り、1パック200円" in listing
    call.speak("卵を2パック")
    review = call.press("2")
    assert "卵 6個入り、2パック、400円" in "".join(review.said)
    # Nothing in round brackets anywhere in what the caller heard, in the TwiML itself.
    for sentence in spoken_sentences(review.body) + call.transcript:
        assert "（" not in sentence and "(" not in sentence, sentence


@pytest.mark.parametrize("status", ["no-answer", "busy", "failed"])
def test_unknown_caller_is_told_nobody_answered(voice_app: Any, status: str) -> None:
    seed_town(voice_app)
    call = CallSim(voice_app.test_client(), UNKNOWN_PHONE)
    call.dial_in()
    assert call.press("0").waiting_for == "dial"
    record = call.dial_result(status)
    assert record.waiting_for == "record"
    spoken = spoken_sentences(record.body)
    assert spoken[0] == "ただいま担当者が電話に出られません。"
    assert any("ピーという音" in s for s in spoken[1:])


def test_an_answered_transfer_just_says_goodbye(voice_app: Any) -> None:
    seed_town(voice_app)
    call = CallSim(voice_app.test_client(), UNKNOWN_PHONE)
    call.dial_in()
    call.press("0")
    bye = call.dial_result("completed")
    assert bye.waiting_for == "hangup" and "出られません" not in "".join(bye.said)


@pytest.mark.parametrize("name,shop,said", [
    ("卵（6個）", None, "卵 6個入り"), ("大根", "あやめ青果店", "あやめ青果店の大根"),
    ("りんご（ふじ）", None, "りんご ふじ"), ("食パン（1斤）", None, "食パン 1斤"),
    ("米こうじ味噌（1kg）", None, "米こうじ味噌 1キロ"), ("しょうゆ（1リットル）", None, "しょうゆ 1リットル"),
    ("トイレットペーパー（12ロール）", None, "トイレットペーパー 12ロール入り"), ("大根", None, "大根"),
])
def test_spoken_names(name: str, shop: str | None, said: str) -> None:
    from voice.prompts import spoken_name
    assert spoken_name(name, shop) == said
