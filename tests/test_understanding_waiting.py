"""Products waiting behind the one question (``Understood.pending_said``, ``understanding.waiting``), as
a resident meets them (#11): 「大根と食パン」 asks how many 大根, and once that is answered the next
product's question follows by itself, on LINE (signed webhook, fake LINE API) and on the phone
(Twilio-signed steps through the real routes). The resident never says a product twice. An answer
about something else, or a new request, does not bring old words back. Baskets are read from the
conversation rows in the database."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from core.db import db
from core.models import Conversation
from tests.line_support import RESIDENT_USER, line_app, line_client, line_fake, seed_town, session_of  # noqa: F401
from tests.test_line_flows import Chat, actions, wire
from tests.test_understanding_flows import _eggs_and_milk
from tests.voice_sim import dial_in_resident, phone_basket, voice_app  # noqa: F401
from tests.voice_sim import seed_town as seed_phone_town


def _state(app: Any, channel: str, party: str) -> dict[str, Any]:
    with session_of(app) as s:
        row = s.scalars(select(Conversation).where(Conversation.channel == channel,
                                                   Conversation.party == party)).one()
        return dict(row.state or {})


# --- LINE ------------------------------------------------------------------------------------------

def test_line_goes_on_to_the_waiting_product_after_the_answer(line_app, line_client, line_fake) -> None:
    town = seed_town(line_app)
    chat = Chat(line_client, line_fake.fake, RESIDENT_USER)
    first = chat.say("大根と食パン")
    assert "大根（150円／本）をいくつにしますか" in wire(first) and "食パンは、この質問のあとで続けます" in wire(first)
    assert "もう一度" not in wire(first)
    assert _state(line_app, "line", RESIDENT_USER).get("basket", []) == []
    second = chat.tap(actions(first)["2本"])
    # 大根 is in, and 食パン's own question follows without the resident saying it again.
    assert "大根を2本、かごに入れました" in wire(second) and "食パン（300円／斤）をいくつにしますか" in wire(second)
    assert _state(line_app, "line", RESIDENT_USER)["basket"] == [[town.daikon_id, 2]]
    third = chat.say("1")                                      # a typed number answers it too
    assert "食パン" in wire(third) and "注文" in wire(third)
    state = _state(line_app, "line", RESIDENT_USER)
    assert state["basket"] == [[town.daikon_id, 2], [town.bread_id, 1]] and "waiting" not in state


def test_line_three_products_and_a_unit_question_one_after_another(line_app, line_client, line_fake) -> None:
    town = seed_town(line_app)
    eggs, _ = _eggs_and_milk(line_app, town.shop_id)
    chat = Chat(line_client, line_fake.fake, RESIDENT_USER)
    first = chat.say("大根と食パンと卵2個")
    assert "大根（150円／本）をいくつ" in wire(first) and "食パン、卵は、この質問のあとで続けます" in wire(first)
    second = chat.tap(actions(first)["3本"])
    assert "食パン（300円／斤）をいくつ" in wire(second)
    third = chat.tap(actions(second)["1斤"])
    # The waiting words were kept as said (「卵2個」): the egg question is the unit one, not 「いくつ」.
    assert "卵は10個入り1パックです。何パックにしますか？" in wire(third)
    chat.tap(actions(third)["1パック（10個）"])
    assert _state(line_app, "line", RESIDENT_USER)["basket"] == [[town.daikon_id, 3], [town.bread_id, 1], [eggs, 1]]


def test_line_a_waiting_product_now_sold_out_is_said_not_placed(line_app, line_client, line_fake) -> None:
    town = seed_town(line_app)
    chat = Chat(line_client, line_fake.fake, RESIDENT_USER)
    first = chat.say("大根と食パン")
    with db.transaction(line_app) as session:
        from shops.models import Product
        session.get(Product, town.bread_id).available = False
    second = chat.tap(actions(first)["2本"])
    assert "「食パン」は見つかりませんでした" in wire(second) and "いくつ" not in wire(second)
    assert _state(line_app, "line", RESIDENT_USER)["basket"] == [[town.daikon_id, 2]]


def test_line_a_new_request_or_another_product_does_not_bring_old_words_back(line_app, line_client,
                                                                             line_fake) -> None:
    town = seed_town(line_app)
    chat = Chat(line_client, line_fake.fake, RESIDENT_USER)
    chat.say("大根と食パン")
    # The resident answers with something else altogether: that replaces what was waiting.
    reply = chat.say("りんご2個")
    assert "食パン" not in wire(reply)
    assert "waiting" not in _state(line_app, "line", RESIDENT_USER)
    later = chat.tap(f"a=add&p={town.daikon_id}&q=1")
    assert "食パン" not in wire(later)
    # And an answer about a product the question was not about does not resume them either.
    chat.tap("a=clear")
    chat.say("大根と食パン")
    other = chat.tap(f"a=add&p={town.apple_id}&q=1")
    assert "食パン" not in wire(other)
    # That tap left the question (an old button in the chat): its waiting word is spent, not kept.
    assert "waiting" not in _state(line_app, "line", RESIDENT_USER)


@pytest.mark.parametrize("away", ["a=menu", "a=shops", "a=usual", "a=status", "a=basket"])
def test_line_an_abandoned_question_does_not_bring_its_waiting_product_back(line_app, line_client, line_fake,
                                                                             away: str) -> None:
    """「大根と食パン」, then the resident taps a menu item instead of answering, and later adds 大根 from
    its product card: 食パン must not come back with it (its question was abandoned)."""
    town = seed_town(line_app)
    chat = Chat(line_client, line_fake.fake, RESIDENT_USER)
    first = chat.say("大根と食パン")
    assert "食パンは、この質問のあとで続けます" in wire(first)
    chat.tap(away)
    assert "waiting" not in _state(line_app, "line", RESIDENT_USER)
    chat.tap(f"a=prods&s={town.shop_id}")
    later = chat.tap(f"a=add&p={town.daikon_id}&q=1")
    assert "食パン" not in wire(later)
    assert _state(line_app, "line", RESIDENT_USER)["basket"] == [[town.daikon_id, 1]]


def test_line_the_answer_tap_still_goes_on_to_the_waiting_product(line_app, line_client, line_fake) -> None:
    # The control for the test above: the same add, tapped on the question's own screen, is the answer.
    town = seed_town(line_app)
    chat = Chat(line_client, line_fake.fake, RESIDENT_USER)
    chat.say("大根と食パン")
    answer = chat.tap(f"a=add&p={town.daikon_id}&q=1")
    assert "食パン（300円／斤）をいくつにしますか" in wire(answer)


# --- phone -----------------------------------------------------------------------------------------

def test_phone_goes_on_to_the_waiting_product_after_the_answer(voice_app) -> None:
    town = seed_phone_town(voice_app, with_history=False)
    call = dial_in_resident(voice_app)
    first = "".join(call.speak("大根と牛乳").said)
    assert "いくつ" in first and "牛乳は、この質問のあとで続けてお聞きします。" in first
    second = "".join(call.press("2#").said)
    assert "大根を2本、かごに入れました。" in second and "牛乳ですね。いくつにしますか" in second
    assert _state(voice_app, "phone", call.call_sid)["basket"] == [[town.product_ids["大根"], 2]]
    third = "".join(call.speak("1本").said)
    assert "牛乳を1本、かごに入れました。" in third
    state = _state(voice_app, "phone", call.call_sid)
    assert state["basket"] == [[town.product_ids["大根"], 2], [town.product_ids["牛乳"], 1]]
    assert "waiting" not in state


def test_phone_a_choice_question_then_the_waiting_one(voice_app) -> None:
    town = seed_phone_town(voice_app, with_history=False)
    call = dial_in_resident(voice_app)
    first = "".join(call.speak("大根2本、やっぱり3本と牛乳").said)
    assert "どちらにしますか" in first and "牛乳は、この質問のあとで" in first
    second = "".join(call.press("2").said)                  # 3本
    assert "牛乳ですね。いくつにしますか" in second
    call.press("1#")
    assert _state(voice_app, "phone", call.call_sid)["basket"] == [[town.product_ids["大根"], 3],
                                                                   [town.product_ids["牛乳"], 1]]


def test_phone_a_new_request_replaces_what_was_waiting(voice_app) -> None:
    town = seed_phone_town(voice_app, with_history=False)
    call = dial_in_resident(voice_app)
    call.speak("大根と牛乳")
    heard = "".join(call.speak("人参1袋").said)               # not an answer: a new request
    assert "牛乳" not in heard
    assert "waiting" not in _state(voice_app, "phone", call.call_sid)
    assert _state(voice_app, "phone", call.call_sid)["basket"] == [[town.product_ids["人参"], 1]]


def test_phone_a_waiting_product_now_sold_out_is_said_not_placed(voice_app) -> None:
    town = seed_phone_town(voice_app, with_history=False)
    call = dial_in_resident(voice_app)
    call.speak("大根と牛乳")
    with db.transaction(voice_app) as session:
        from shops.models import Product
        session.get(Product, town.product_ids["牛乳"]).available = False
    heard = "".join(call.press("2#").said)
    assert "牛乳は、見つかりませんでした。" in heard and "いくつ" not in heard
    assert _state(voice_app, "phone", call.call_sid)["basket"] == [[town.product_ids["大根"], 2]]
