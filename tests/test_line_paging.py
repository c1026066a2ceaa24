"""Products paged ten at a time on LINE when more than a carousel (12) (issue 11): 「ほかの商品を見る」 / 「前へ」 keep the shop and kind,
a line says where the page stands, a forged page number is clamped, and typed 「ほか」「次」 turn pages."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from orders.models import Order
from tests.line_support import (  # noqa: F401  (fixtures)
    RESIDENT_USER, line_app, line_client, line_fake, seed_town, session_of,
)
from tests.test_line_flows import Chat, actions, wire


def _shop_with(app: Any, count: int, category: str = "野菜") -> tuple[int, list[int]]:
    from core.db import db
    from tests import factories
    with db.transaction(app) as s:
        shop = factories.make_shop(s, name="大きな直売所")
        ids = [factories.make_product(s, shop, name=f"品{i:02d}", kana=f"しな{i:02d}", category=category).id
               for i in range(1, count + 1)]
        factories.make_product(s, shop, name="りんご箱", kana="りんごばこ", category="果物")
        return shop.id, ids


def _names(messages: list[dict[str, Any]]) -> list[str]:
    return re.findall(r"品\d\d", wire(messages))


def _quick_count(messages: list[dict[str, Any]]) -> int:
    return len((messages[-1].get("quickReply") or {}).get("items", []))


def test_25_products_page_through_and_back(line_app, line_client, line_fake) -> None:
    seed_town(line_app)
    shop_id, ids = _shop_with(line_app, 25)
    chat = Chat(line_client, line_fake.fake, RESIDENT_USER)
    page1 = chat.tap(f"a=prods&s={shop_id}&c=野菜")
    assert _names(page1) == [f"品{i:02d}" for i in range(1, 11)]
    assert page1[0]["text"] == "25種類のうち1〜10番目"
    assert "前へ" not in actions(page1) and _quick_count(page1) <= 13
    page2 = chat.tap(actions(page1)["ほかの商品を見る"])
    assert _names(page2) == [f"品{i:02d}" for i in range(11, 21)]
    assert page2[0]["text"] == "25種類のうち11〜20番目" and _quick_count(page2) <= 13
    page3 = chat.tap(actions(page2)["ほかの商品を見る"])
    assert _names(page3) == [f"品{i:02d}" for i in range(21, 26)]
    assert page3[0]["text"] == "25種類のうち21〜25番目" and "ほかの商品を見る" not in actions(page3)
    assert "りんご箱" not in wire(page3)                      # the kind is kept across pages
    assert {"前へ", "ほかのお店を見る", "戻る", "最初から"} <= set(actions(page3)) and _quick_count(page3) <= 13
    back = chat.tap(actions(page3)["前へ"])
    assert _names(back) == _names(page2)
    # Ordering from page 3 puts that product in the basket.
    page3 = chat.tap(actions(back)["ほかの商品を見る"])
    add = f"a=add&p={ids[20]}&q=2"
    assert f'"data": "{add}"' in wire(page3)                  # 品21's own 2本 button, shown on page 3
    card = chat.tap(add)
    assert "品21 2本" in wire(card)
    done = chat.tap(actions(card)["この内容で注文する"])
    assert "承りました" in wire(done)
    with session_of(line_app) as s:
        [order] = s.scalars(select(Order)).all()
        assert [(l.product_id, l.quantity) for l in order.lines] == [(ids[20], 2)]


def test_all_products_of_the_shop_reachable_and_limits_kept(line_app, line_client, line_fake) -> None:
    seed_town(line_app)
    shop_id, _ids = _shop_with(line_app, 25)
    chat = Chat(line_client, line_fake.fake, RESIDENT_USER)
    seen: list[str] = []
    page = chat.tap(f"a=prods&s={shop_id}")                   # no kind chosen: 26 products, 3 pages
    while True:
        seen += _names(page)
        assert _quick_count(page) <= 13
        if "ほかの商品を見る" not in actions(page):
            break
        page = chat.tap(actions(page)["ほかの商品を見る"])
    assert seen == [f"品{i:02d}" for i in range(1, 26)] and "りんご箱" in wire(page)


def test_forged_page_numbers_are_clamped(line_app, line_client, line_fake) -> None:
    seed_town(line_app)
    shop_id, _ids = _shop_with(line_app, 25)
    chat = Chat(line_client, line_fake.fake, RESIDENT_USER)
    far = chat.tap(f"a=prods&s={shop_id}&c=野菜&pg=999")
    assert far[0]["text"] == "25種類のうち21〜25番目"
    negative = chat.tap(f"a=prods&s={shop_id}&c=野菜&pg=-3")
    assert negative[0]["text"] == "25種類のうち1〜10番目"
    junk = chat.tap(f"a=prods&s={shop_id}&c=野菜&pg=99999999999999999999")
    assert "番目" in junk[0]["text"]


def test_typed_next_and_previous_turn_pages(line_app, line_client, line_fake) -> None:
    seed_town(line_app)
    shop_id, _ids = _shop_with(line_app, 25)
    chat = Chat(line_client, line_fake.fake, RESIDENT_USER)
    chat.tap(f"a=prods&s={shop_id}&c=野菜")
    assert chat.say("ほか")[0]["text"] == "25種類のうち11〜20番目"
    assert chat.say("次")[0]["text"] == "25種類のうち21〜25番目"
    assert chat.say("前へ")[0]["text"] == "25種類のうち11〜20番目"


def test_a_carousel_full_of_products_shows_no_paging(line_app, line_client, line_fake) -> None:
    # 10 or fewer (the brief), and up to 12 (one carousel: the demo greengrocer stays one page).
    seed_town(line_app)
    shop_id, _ids = _shop_with(line_app, 12)
    chat = Chat(line_client, line_fake.fake, RESIDENT_USER)
    page = chat.tap(f"a=prods&s={shop_id}&c=野菜&pg=1")
    assert len(page) == 1 and "番目" not in wire(page) and len(_names(page)) == 12
    assert "ほかの商品を見る" not in actions(page) and "前へ" not in actions(page)


def test_ten_or_fewer_products_show_no_paging(line_app, line_client, line_fake) -> None:
    seed_town(line_app)
    shop_id, _ids = _shop_with(line_app, 10)
    chat = Chat(line_client, line_fake.fake, RESIDENT_USER)
    page = chat.tap(f"a=prods&s={shop_id}&c=野菜")
    assert len(page) == 1 and "番目" not in wire(page)
    assert "ほかの商品を見る" not in actions(page) and "前へ" not in actions(page)
    assert len(_names(page)) == 10
