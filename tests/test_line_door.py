"""One order per door per day on LINE (issue #9), through /line/callback with the fake LINE API: a
second order the same day is offered and confirmed as an addition to the first (one order, one fee),
いつもの tapped twice is a question, and a family member's order the same day joins the resident's."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from orders.models import OrderAddition
from orders.service import LineItem, place_order
from core.clock import JST
from core.db import db
from outbox.models import OutboxMessage
from residents.models import FamilyLink
from tests.line_support import (  # noqa: F401  (fixtures)
    RESIDENT_USER, body, line_app, line_client, line_fake, post, seed_town, session_of,
)
from tests.test_line_flows import FAMILY_USER, Chat, actions, orders, stock, wire

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=JST)


def added_messages(app, recipient: str) -> list[str]:  # type: ignore[no-untyped-def]
    with session_of(app) as s:
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "order_added",
                                                     OutboxMessage.recipient == recipient)).all()
        return [m.payload["messages"][0]["text"] for m in rows]


def test_second_order_the_same_day_is_offered_and_added(line_app, line_client, line_fake) -> None:
    town = seed_town(line_app)
    chat = Chat(line_client, line_fake.fake, RESIDENT_USER)
    chat.tap(actions(chat.say("大根2本"))["この内容で注文する"])
    [first] = orders(line_app)
    card = chat.say("りんご3個")
    text = wire(card)
    assert f"注文番号 {first.id} に追加しますか？" in text
    assert "配達料 0円" in text and "配達料は追加でかかりません" in text and "合計 360円" in text
    assert "この内容で注文する" not in actions(card)
    done = chat.tap(actions(card)[f"注文番号{first.id}に追加する"])
    assert f"注文番号 {first.id} のご注文に追加しました" in wire(done) and "合計 760円" in wire(done)
    [order] = orders(line_app)                                   # one order, one stop
    assert order.id == first.id and (order.fee_yen, order.total_yen) == (100, 760)  # one fee
    assert sorted((l.product_id, l.quantity) for l in order.lines) == [(town.daikon_id, 2), (town.apple_id, 3)]
    assert stock(line_app, town.apple_id) == 27 and stock(line_app, town.daikon_id) == 18
    [message] = added_messages(line_app, RESIDENT_USER)
    assert message.startswith(f"ご注文に追加しました。（注文番号 {order.id}）")


def test_usual_tapped_twice_is_a_question_not_a_second_order(line_app, line_client, line_fake) -> None:
    town = seed_town(line_app)
    with db.transaction(line_app) as s:     # last week's order makes the usual: 大根1本
        place_order(s, resident_id=town.resident_id, items=[LineItem(town.daikon_id, 1)], placed_by="r",
                    channel="line", now=NOW - timedelta(days=7))
    chat = Chat(line_client, line_fake.fake, RESIDENT_USER)
    card = chat.tap("a=usual")
    assert "配達料 100円" in wire(card)
    ok = actions(card)["確定"]
    assert "承りました" in wire(chat.tap(ok))
    # The same 確定 tapped again (a second event): a question, nothing placed.
    question = chat.tap(ok)
    today = orders(line_app)[-1]
    assert (f"さきほど同じご注文（注文番号 {today.id}）を承りました。もう一度同じものを追加しますか？"
            in wire(question))
    assert {"はい", "いいえ"} <= set(actions(question))
    assert len(orders(line_app)) == 2 and stock(line_app, town.daikon_id) == 18
    # いつもの again from the menu: asked straight away; いいえ adds nothing.
    again = chat.tap("a=usual")
    assert "もう一度同じものを追加しますか" in wire(again)
    assert "追加はしませんでした" in wire(chat.tap(actions(again)["いいえ"]))
    assert len(orders(line_app)) == 2 and stock(line_app, town.daikon_id) == 18
    # はい: added on purpose, to the same order.
    done = chat.tap(actions(chat.tap("a=usual"))["はい"])
    assert f"注文番号 {today.id} に追加しました" in wire(done)
    assert len(orders(line_app)) == 2 and stock(line_app, town.daikon_id) == 17
    assert [(l.product_id, l.quantity) for l in orders(line_app)[-1].lines] == [(town.daikon_id, 2)]


def test_typed_repeat_is_asked_about_too(line_app, line_client, line_fake) -> None:
    town = seed_town(line_app)
    chat = Chat(line_client, line_fake.fake, RESIDENT_USER)
    chat.tap(actions(chat.say("大根2本"))["この内容で注文する"])
    card = chat.say("大根2本")                        # typed again: the card says it would be added
    question = chat.tap(actions(card)["注文番号1に追加する"])
    assert "さきほど同じご注文（注文番号 1）を承りました" in wire(question)
    assert len(orders(line_app)) == 1 and stock(line_app, town.daikon_id) == 18
    done = chat.tap(actions(question)["はい"])
    assert "注文番号 1 のご注文に追加しました" in wire(done)
    [order] = orders(line_app)
    assert [(l.product_id, l.quantity) for l in order.lines] == [(town.daikon_id, 4)]


def test_family_member_the_same_day_adds_to_the_residents_order(line_app, line_client, line_fake) -> None:
    from links.service import issue_code
    town = seed_town(line_app)
    resident = Chat(line_client, line_fake.fake, RESIDENT_USER)
    resident.tap(actions(resident.say("大根1本"))["この内容で注文する"])
    [first] = orders(line_app)
    with db.transaction(line_app) as s:
        code = issue_code(s, purpose="family", target_id=town.resident_id, actor="staff:test",
                          now=line_app.extensions["core.clock"].now()).code
    family = Chat(line_client, line_fake.fake, FAMILY_USER)
    family.follow()
    family.tap("a=link")
    family.say(code)
    card = family.say("りんご4個")
    assert f"注文番号 {first.id} に追加しますか？" in wire(card)
    done = family.tap(actions(card)[f"注文番号{first.id}に追加する"])
    assert f"注文番号 {first.id} のご注文に追加しました" in wire(done)
    [order] = orders(line_app)
    assert order.placed_by == f"resident:{town.resident_id}" and order.total_yen == 150 + 480 + 100
    with session_of(line_app) as s:
        link = s.scalars(select(FamilyLink).where(FamilyLink.line_user_id == FAMILY_USER)).one()
        addition = s.scalars(select(OrderAddition)).one()
    assert addition.actor == f"family:{link.id}" and addition.order_id == order.id
    # The resident hears about it (and the family member, who asked to be told, as when placing).
    assert any("追加：りんご 4個" in t for t in added_messages(line_app, RESIDENT_USER))
    assert any(t.startswith("長井 花子") for t in added_messages(line_app, FAMILY_USER))
