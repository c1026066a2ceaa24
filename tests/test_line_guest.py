"""Before registering (issue #11): every message of someone not registered gets the way in, not the
friend-added greeting again; 役場から電話してもらう queues a call-back request the staff see; after a
link code the next sensible choices; on the name question 戻る and 最初から differ. All through the
real webhook with signed events, the replies as the fake LINE API received them."""

from __future__ import annotations

from tests.accounts_support import sign_in
from typing import Any

from sqlalchemy import select

from residents.models import VoiceMessage
from tests.line_support import body, line_app, line_client, line_fake, post, seed_town  # noqa: F401
from tests.line_support import session_of
from tests.test_line_flows import Chat, actions, wire

GUEST = "U12121212121212121212121212guest"
REGISTER_FIRST = "ご注文の前に、お名前と住所の登録をお願いします"
GREETING = "友だち追加ありがとうございます"


def test_every_message_before_registering_shows_the_way_in(line_app, line_client, line_fake) -> None:
    seed_town(line_app)
    chat = Chat(line_client, line_fake.fake, GUEST)
    assert GREETING in wire(chat.follow())                      # the follow itself: the greeting
    answers = [chat.say("注文"), chat.say("いつもの"), chat.say("こんにちは"), chat.say("注文の確認"),
               chat.tap("a=shops"), chat.tap("a=usual"), chat.tap("a=status"),   # rich-menu tiles
               chat.tap("a=add&p=1&q=2")]                                       # an old button
    for reply in answers:
        text = wire(reply)
        assert REGISTER_FIRST in text and GREETING not in text, text
        assert {"登録する", "役場から電話してもらう"} <= set(actions(reply))
    # The way in works: 登録する asks for the name.
    assert "お名前を送ってください" in wire(chat.tap(actions(answers[0])["登録する"]))


def test_call_me_queues_a_request_the_staff_see(line_app, line_client, line_fake) -> None:
    seed_town(line_app)
    chat = Chat(line_client, line_fake.fake, GUEST)
    chat.follow()
    ask = chat.tap(actions(chat.say("注文"))["役場から電話してもらう"])
    assert "お電話番号を送ってください" in wire(ask)
    assert "お電話番号" in wire(chat.say("でんわ"))                   # not a number: asked again
    done = chat.say("0238-88-4321")
    assert "役場の担当者から 0238-88-4321 にお電話します" in wire(done)
    chat.tap(actions(chat.say("いつもの"))["役場から電話してもらう"])
    chat.say("0238884321")                                           # asked twice: listed once
    with session_of(line_app) as s:
        [request] = s.scalars(select(VoiceMessage)).all()
    assert (request.from_number, request.purpose, request.handled_at) == ("+81238884321", "line_callback", None)
    staff = line_app.test_client()
    sign_in(staff)
    page = staff.get("/voice/messages").get_data(as_text=True)
    assert "登録前・LINEで電話の依頼" in page and "tel:+81238884321" in page and "未対応" in page


def test_a_redelivered_call_me_event_is_one_request(line_app, line_client, line_fake) -> None:
    seed_town(line_app)
    chat = Chat(line_client, line_fake.fake, GUEST)
    chat.tap("a=callme")
    raw = body("text", user=GUEST, text="0238-88-5555", event_id="01JECALLME0000000000000000")
    assert post(line_client, raw).status_code == 200
    assert post(line_client, raw.replace('"isRedelivery": false', '"isRedelivery": true')).status_code == 200
    with session_of(line_app) as s:
        assert len(s.scalars(select(VoiceMessage)).all()) == 1


def test_after_a_family_code_the_next_choices_are_offered(line_app, line_client, line_fake) -> None:
    from core.db import db
    from links.service import issue_code
    town = seed_town(line_app)
    with db.transaction(line_app) as s:
        code = issue_code(s, purpose="family", target_id=town.resident_id, actor="staff:test",
                          now=line_app.extensions["core.clock"].now()).code
    chat = Chat(line_client, line_fake.fake, GUEST)
    chat.tap("a=link")
    welcome = chat.say(code)
    assert "ご家族" in wire(welcome)
    offered = actions(welcome)
    assert {"注文する", "いつもの", "注文の確認", "最初から"} <= set(offered)
    assert "お店を選んでください" in wire(chat.tap(offered["注文する"]))   # and they work in the new role


def test_on_the_name_question_back_and_start_over_differ(line_app, line_client, line_fake) -> None:
    seed_town(line_app)
    chat = Chat(line_client, line_fake.fake, GUEST)
    chat.follow()
    name = chat.tap("a=reg")
    offered = actions(name)
    assert "お名前" in wire(name) and offered["戻る"] != offered["最初から"]
    back = chat.tap(offered["戻る"])                        # one step back: the choice of how to register
    assert REGISTER_FIRST in wire(back) and GREETING not in wire(back)
    assert "お名前" in wire(chat.tap(actions(back)["登録する"]))
    again = chat.say("戻る")                                 # typed, the same
    assert REGISTER_FIRST in wire(again)
    chat.tap("a=reg")
    assert GREETING in wire(chat.tap(offered["最初から"]))   # start over: the greeting


def test_usual_without_any_order_says_so(line_app, line_client, line_fake) -> None:
    from tests.line_support import RESIDENT_USER
    seed_town(line_app)
    chat = Chat(line_client, line_fake.fake, RESIDENT_USER)
    reply = chat.tap("a=usual")
    assert "これまでのご注文が見つかりませんでした" in wire(reply) and "ご用意できません" not in wire(reply)
    assert "注文する" in actions(reply)
