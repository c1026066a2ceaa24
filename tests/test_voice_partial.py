"""Partly understood speech on the phone (#11): what went into the basket is said, every word that
named nothing is said back (not only the first two), a product waiting behind the one question is
named (``Understood.pending``), and the question reads a bracketed name naturally (``voice.twiml``
speaks every sentence through ``prompts.speakable``; this pins it for the clarify question). Twilio-signed
requests through the real webhook routes (``CallSim``), the basket read from the database."""

from __future__ import annotations

from sqlalchemy import select

from core.db import db
from shops.models import Shop
from tests import factories as f
from tests.voice_sim import dial_in_resident, phone_basket, voice_app  # noqa: F401
from tests.voice_sim import seed_town as seed_phone_town


def test_every_unmatched_word_is_said_back_with_what_was_placed(voice_app) -> None:
    town = seed_phone_town(voice_app, with_history=False)
    call = dial_in_resident(voice_app)
    reply = call.speak("大根2本とメロン1個、人参1袋とすいか2個、りんご1個とぶどう1房")
    heard = "".join(reply.said)
    assert reply.status == 200 and reply.waiting_for == "gather"
    assert "大根を2本、かごに入れました。" in heard and "人参を1袋、かごに入れました。" in heard
    # All three, in one sentence, in the order said: before #11 the third was dropped in silence.
    assert "メロン1個と、すいか2個と、ぶどう1房は、見つかりませんでした。" in heard
    assert phone_basket(voice_app, call) == [[town.product_ids["大根"], 2], [town.product_ids["人参"], 1],
                                        [town.product_ids["りんご"], 1]]


def test_a_product_waiting_behind_the_question_is_named(voice_app) -> None:
    town = seed_phone_town(voice_app, with_history=False)
    call = dial_in_resident(voice_app)
    reply = call.speak("大根と牛乳")          # no number for either: one question at a time
    heard = "".join(reply.said)
    assert "いくつ" in heard and "牛乳は、この質問のあとで続けてお聞きします。" in heard
    assert "牛乳をいくつ" not in heard
    assert phone_basket(voice_app, call) == []
    then = "".join(call.press("2").said)
    assert phone_basket(voice_app, call) == [[town.product_ids["大根"], 2]]     # 牛乳 was not guessed
    assert "牛乳ですね。いくつにしますか" in then                           # its own question, unasked-for


def test_the_question_reads_a_bracketed_name_naturally(voice_app) -> None:
    seed_phone_town(voice_app, with_history=False)
    with db.transaction(voice_app) as session:
        store = session.scalars(select(Shop).where(Shop.name == "まちの商店")).one()
        soy = f.make_product(session, store, name="豆乳（1リットル）", kana="とうにゅう", category="飲み物",
                             unit="本", price_yen=250, stock=10)
        soy_id = soy.id
    call = dial_in_resident(voice_app)
    reply = call.speak("豆乳2本、やっぱり3本")
    heard = "".join(reply.said)
    assert "豆乳 1リットルは2本と3本のどちらにしますか。" in heard
    assert "（" not in heard and "(" not in heard
    call.press("2")
    assert phone_basket(voice_app, call) == [[soy_id, 3]]
