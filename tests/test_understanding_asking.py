"""Words that only ask (``understanding/asking.py``): after a product and its number, the verb of
buying or bringing, its endings, a Tohoku request ending and a sentence-final particle are never said
back as 「見つかりませんでした」 (#11: 「キャベツを1玉買ってくなんしぇ」 said back 「買ってく」), while a
word that could be a product still is, on LINE and on the phone alike."""

from __future__ import annotations

import pytest

from tests.line_support import RESIDENT_USER, line_app, line_client, line_fake, seed_town  # noqa: F401
from tests.test_line_flows import Chat, wire
from tests.test_understanding import P
from tests.test_understanding_flows import _call_basket, _line_basket
from tests.voice_sim import RESIDENT_PHONE, CallSim, voice_app  # noqa: F401
from tests.voice_sim import seed_town as seed_phone_town
from understanding import Understood, understand
from understanding.analyser import tokens
from understanding.asking import BEGINS, FINAL, GOES_ON, NONE, PREFIX, cut, roles

DAIKON = P(1, "大根", "だいこん", "本")
CABBAGE = P(2, "キャベツ", "きゃべつ", "玉")
MILK = P(3, "牛乳", "ぎゅうにゅう", "本", "飲み物")
HAKUSAI = P(4, "白菜", "はくさい", "個")
CATALOGUE = [DAIKON, CABBAGE, MILK, HAKUSAI]


def said(text: str) -> Understood:
    return understand(CATALOGUE, text)


def items(u: Understood) -> list[tuple[int, int]]:
    return [(i.product_id, i.quantity) for i in u.items]


# Typed on LINE (kanji, kana, width, punctuation) and as the phone's recogniser writes speech (the
# same engine: ``voice/steps/speech.py`` renders ``understand`` on the SpeechResult), with its spaces.
@pytest.mark.parametrize("text, expected", [
    ("キャベツを1玉買ってくなんしぇ", [(2, 1)]),        # the issue's: 「買ってく」 was said back
    ("大根を2本買ってください", [(1, 2)]),              # 「買っ」 was
    ("大根2本持ってきてけらっしゃい", [(1, 2)]),         # 「持ってきてけ」 was
    ("牛乳1本ちょうだいねぇ", [(3, 1)]),                # 「ねぇ」 was (one word to Sudachi)
    ("大根2本持ってきてくなんしょ", [(1, 2)]),
    ("大根２本　送ってけろ", [(1, 2)]),                 # full width, a full-width space
    ("白菜1個届けてほしいなぁ", [(4, 1)]),
    ("牛乳を2本頼むわ", [(3, 2)]),
    ("キャベツ二玉ほしいんだけど", [(2, 2)]),           # the だけ of けど is not 「だけ」 (only)
    ("牛乳1本持ってきてもらえますか。", [(3, 1)]),
    ("大根2本お願いできますか", [(1, 2)]),
    ("白菜1個入れてください！", [(4, 1)]),
    ("だいこん にほん かってください", [(1, 2)]),       # spoken, in kana, with the recogniser's spaces
    ("キャベツ 1玉 もってきてけろ", [(2, 1)]),          # spoken
    ("牛乳 2本 届けてくなんしぇ", [(3, 2)]),            # spoken
    ("大根を3本注文します", [(1, 3)]),
    ("きゃべつ ひとたま おねがいしやす", [(2, 1)]),      # Okitama します
    ("大根2本よ", [(1, 2)]),
    ("大根2本 かってけろ", [(1, 2)]),                   # Sudachi: the adverb かっ + てけろ
    ("牛乳2本おくってくなんしぇ", [(3, 2)]),
])
def test_words_that_only_ask_are_not_said_back(text: str, expected: list[tuple[int, int]]) -> None:
    u = said(text)
    assert (u.intent, items(u), u.ambiguity, u.unmatched) == ("order_items", expected, None, ())


@pytest.mark.parametrize("text, back", [
    ("大根2本とメロン1個買ってください", ("メロン1個",)),     # the ending goes, the product word stays
    ("大根2本とすいかちょうだいねぇ", ("すいか",)),
    ("大根2本となす持ってきてけろ", ("なす",)),             # Sudachi reads なす as the verb 成す
    ("大根2本とばんそうこう買ってくなんしぇ", ("ばんそうこう",)),  # and ばんそうこう as two adverbs
    ("大根2本 めろん 1こ おくってけろ", ("めろん1こ",)),       # spoken
    # Kana words Sudachi splits into grammar or reads as a verb of asking: still said back, whole or not.
    ("大根2本ともちください", ("もち",)),
    ("大根2本と くず 買ってくなんしぇ", ("くず",)),
    ("大根2本としおちょうだいねぇ", ("しお",)),
])
def test_an_unknown_word_next_to_an_ending_is_still_said_back(text: str, back: tuple[str, ...]) -> None:
    u = said(text)
    assert items(u) == [(1, 2)] and u.unmatched == back


def _roles(text: str) -> dict[str, str]:
    words = tokens(text)
    return dict(zip((t.surface for t in words), roles([(t.surface, t.pos, t.pos2, t.lemma) for t in words])))


def test_a_request_begins_with_a_word_that_asks() -> None:
    got = _roles("メロン1個ばんそうこう買ってくなんしぇ")
    assert (got["買っ"], got["てく"], got["し"]) == (BEGINS, GOES_ON, GOES_ON)
    # A product is a noun, a counter a suffix, and Sudachi's two adverbs of ばんそうこう are neither.
    assert all(got[w] == NONE for w in ("メロン", "個", "ばん", "そうこう"))
    assert _roles("牛乳ちょうだいねぇ")["ねぇ"] == FINAL and _roles("大根けろ")["けろ"] == BEGINS
    # A kana word Sudachi takes for a verb of buying (「もち」 持つ) begins nothing unless conjugated.
    assert _roles("もちください")["もち"] != BEGINS and _roles("もってきて")["もっ"] == BEGINS


def test_grammar_alone_is_no_request() -> None:
    # 「かし」 is か + し to Sudachi, 「くず」 とく + ず: without a word that asks, only a
    # sentence-final particle at the very end goes.
    assert cut([GOES_ON, GOES_ON]) == 2 and cut([NONE, GOES_ON, FINAL]) == 2 and cut([NONE, BEGINS, GOES_ON]) == 1
    assert cut([GOES_ON, GOES_ON, BEGINS, FINAL]) == 2 and cut([PREFIX, BEGINS]) == 0


# --- through the channels ---------------------------------------------------------------------------

def test_line_says_nothing_back_for_a_request_ending(line_app, line_client, line_fake) -> None:
    town = seed_town(line_app)
    chat = Chat(line_client, line_fake.fake, RESIDENT_USER)
    reply = wire(chat.say("大根を2本買ってくなんしぇ"))
    assert "見つかりませんでした" not in reply and _line_basket(line_app) == [[town.daikon_id, 2]]
    reply = wire(chat.say("りんご1個とメロン1個持ってきてけらっしゃい"))
    assert "「メロン1個」は見つかりませんでした" in reply and "持ってき" not in reply


def test_phone_says_nothing_back_for_a_request_ending(voice_app) -> None:
    town = seed_phone_town(voice_app, with_history=False)
    call = CallSim(voice_app.test_client(), RESIDENT_PHONE)
    call.dial_in()
    heard = "".join(call.speak("大根を2本買ってくなんしぇ").said)
    assert "見つかりませんでした" not in heard and "大根を2本、かごに入れました" in heard
    assert _call_basket(voice_app, call) == [[town.product_ids["大根"], 2]]
    heard = "".join(call.speak("人参を1袋とメロンを1個持ってきてけろ").said)
    assert "メロンを1個は、見つかりませんでした" in heard and "持って" not in heard
