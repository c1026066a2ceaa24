"""Words on the phone that match no product (issue 11): the line says what it heard and offers the
nearest products as numbered choices (``understanding.nearest_products``), a choice adds that
product, 「どれでもない」 and nothing near lead to the menu. Twilio-signed steps (``CallSim``), the
basket read from the database."""

from __future__ import annotations

from tests.voice_sim import dial_in_resident, phone_basket, voice_app  # noqa: F401
from tests.voice_sim import seed_town as seed_phone_town
from understanding import nearest_products
from voice import prompts as P


class _Entry:
    def __init__(self, pid: int, name: str, kana: str) -> None:
        self.id, self.name, self.kana, self.unit, self.category = pid, name, kana, "本", ""


def test_nearest_products_by_reading() -> None:
    catalogue = [_Entry(1, "大根", "だいこん"), _Entry(2, "人参", "にんじん"), _Entry(3, "牛乳", "ぎゅうにゅう")]
    [daikon, *_] = nearest_products(catalogue, "だいこを2本")
    assert (daikon.product_id, daikon.quantity) == (1, 2)          # the quantity said is carried over
    assert [c.product_id for c in nearest_products(catalogue, "ぎゅうにゅ")] == [3]
    assert nearest_products(catalogue, "メロン") == ()
    assert len(nearest_products([_Entry(i, f"大根{i}", "だいこん") for i in range(9)], "だいこ")) == 3


def test_unmatched_word_says_what_was_heard_and_offers_choices(voice_app) -> None:
    town = seed_phone_town(voice_app, with_history=False)
    call = dial_in_resident(voice_app)
    offer = call.speak("だいこむを2本")
    heard = "".join(offer.said)
    assert offer.status == 200 and offer.waiting_for == "gather"
    assert "だいこむを2本、と聞こえました" in heard
    assert "大根は1。" in heard and "どれでもなければ" in heard
    assert "うまく聞き取れませんでした" not in heard
    gather = offer.element
    assert gather is not None and "speech" in gather.get("input", "") and "dtmf" in gather.get("input", "")
    assert gather.get("language") == "ja-JP"
    added = call.press("1")
    assert added.status == 200
    assert phone_basket(voice_app, call) == [[town.product_ids["大根"], 2]]
    assert "大根を2本、かごに入れました" in "".join(added.said)


def test_choice_without_a_quantity_asks_how_many(voice_app) -> None:
    town = seed_phone_town(voice_app, with_history=False)
    call = dial_in_resident(voice_app)
    assert "人参は1。" in "".join(call.speak("にんじ").said)
    assert "いくつ" in "".join(call.press("1").said)
    call.press("3")
    assert phone_basket(voice_app, call) == [[town.product_ids["人参"], 3]]


def test_none_of_these_at_the_menu_goes_to_the_menu(voice_app) -> None:
    seed_phone_town(voice_app, with_history=False)
    call = dial_in_resident(voice_app)
    offer = "".join(call.speak("ぎゅうにゅ").said)
    assert "牛乳は1。" in offer
    none_key = str(offer.count("は1。") + offer.count("は2。") + offer.count("は3。") + 1)
    assert f"どれでもなければ{none_key}を押してください" in offer
    back = call.press(none_key)
    assert back.status == 200 and P.MENU in "".join(back.said)
    assert phone_basket(voice_app, call) == []


def test_nothing_near_offers_the_menu(voice_app) -> None:
    seed_phone_town(voice_app, with_history=False)
    call = dial_in_resident(voice_app)
    reply = call.speak("メロンを1個")
    heard = "".join(reply.said)
    assert reply.status == 200 and "メロンを1個、と聞こえましたが" in heard and P.MENU in heard and reply.waiting_for == "gather"
    assert "どれでもなければ" not in heard


def test_unmatched_word_while_choosing_a_kind_is_offered_too(voice_app) -> None:
    town = seed_phone_town(voice_app, with_history=False)
    call = dial_in_resident(voice_app)
    call.press("2")                                   # new order: the kinds of item
    offer = "".join(call.speak("ぎゅうにょを2本").said)
    assert "ぎゅうにょを2本、と聞こえました" in offer and "牛乳は1。" in offer and "前のご案内に戻ります" in offer
    call.press("1")
    assert phone_basket(voice_app, call) == [[town.product_ids["牛乳"], 2]]


def test_none_of_these_while_choosing_a_kind_goes_back_there(voice_app) -> None:
    seed_phone_town(voice_app, with_history=False)
    call = dial_in_resident(voice_app)
    call.press("2")
    offer = "".join(call.speak("にんじ").said)
    back = call.press("2")                            # one choice (人参), so 2 is 「どれでもない」
    assert "どれでもなければ2" in offer and "品物の種類を選んでください" in "".join(back.said)


def test_unmatched_word_in_a_list_of_items_is_offered_too(voice_app) -> None:
    town = seed_phone_town(voice_app, with_history=False)
    call = dial_in_resident(voice_app)
    call.press("2")
    call.speak("やまびこ直売所")                         # that shop's list of items
    nothing = "".join(call.speak("めろん").said)     # nothing near: that list again
    assert "めろん、と聞こえましたが" in nothing and "品物の番号を押すか" in nothing
    offer = call.speak("だいこむを1本")
    assert "だいこむを1本、と聞こえました" in "".join(offer.said) and "大根は1。" in "".join(offer.said)
    call.press("1")
    assert phone_basket(voice_app, call) == [[town.product_ids["大根"], 1]]


def test_garbled_answers_never_500(voice_app) -> None:
    seed_phone_town(voice_app, with_history=False)
    for words in ("だいこむを2本", "ん", "９９９", "あああああああああああああああああああ", "大根を0本", "にんじ"):
        call = dial_in_resident(voice_app)
        first = call.speak(words)
        assert first.status == 200, words
        for key in ("7", "4", "9"):
            if call.last is None or call.last.waiting_for != "gather":
                break
            assert call.press(key).status == 200, (words, key)


def test_every_word_heard_is_said_back_and_a_later_one_is_offered(voice_app) -> None:
    # Before: only the name before the first number was tried (「めろん」: nothing near, 大根 never
    # offered) and the "nothing near" sentence read at most two of the words.
    town = seed_phone_town(voice_app, with_history=False)
    call = dial_in_resident(voice_app)
    offer = "".join(call.speak("めろん1個とだいこむを2本").said)
    assert "めろん1個は、見つかりませんでした。" in offer
    assert "だいこむを2本、と聞こえました" in offer and "大根は1。" in offer
    call.press("1")
    assert phone_basket(voice_app, call) == [[town.product_ids["大根"], 2]]
    other = dial_in_resident(voice_app)
    nothing = "".join(other.speak("めろんと、すいかと、ぶどうと、ばなな").said)
    assert "めろんと、すいかと、ぶどうと、ばなな、と聞こえましたが、その品物は見つかりませんでした。" in nothing
