"""The four rules added for the held-out corpus (#11), each on its own, each with the case it must
not reach: clipped names (``catalogue._stems``, ``scanner._stem_at``), the one-piece size in a name's
brackets (「食パン（1斤）」), ば for を before a number, and けろ/けれ as a please. The held-out share
(``test_understanding_held_out.py``) says they help in bulk; these say what each one does and where it
stops, so that a change to one of them fails here by name."""

from __future__ import annotations

import pytest

from tests.test_understanding import P
from understanding import Understood, understand
from understanding.catalogue import _index, _rows

DAIKON = P(1, "大根", "だいこん", "本")
MILK = P(2, "牛乳（1リットル）", "ぎゅうにゅう", "本", "飲み物")
BREAD = P(3, "食パン（1斤）", "しょくぱん", "袋", "パン")
GANMO = P(4, "がんもどき", "がんもどき", "個", "豆腐")
CABBAGE = P(5, "キャベツ", "きゃべつ", "玉")
SPINACH = P(6, "ほうれん草", "ほうれんそう", "束")
EGGS = P(7, "卵（10個）", "たまご じっこ", "パック", "卵")
# Two names that begin alike: 「さつま」 could be either, so it is neither.
POTATO = P(8, "さつまいも", "さつまいも", "本")
SATSUMAAGE = P(9, "さつま揚げ", "さつまあげ", "袋", "惣菜")
CATALOGUE = [DAIKON, MILK, BREAD, GANMO, CABBAGE, SPINACH, EGGS, POTATO, SATSUMAAGE]


def said(text: str) -> Understood:
    return understand(CATALOGUE, text)


def items(u: Understood) -> list[tuple[int, int]]:
    return [(i.product_id, i.quantity) for i in u.items]


# --- clipped names ----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("だいこ2本", [(1, 2)]),
    ("がんも3こ", [(4, 3)]),
    ("ぎゅうにゅ2本", [(2, 2)]),       # 牛乳 with its last kana lost
    ("ほうれん2束", [(6, 2)]),
    ("さつまい2本", [(8, 2)]),         # long enough to be one name only
])
def test_clipped_name_with_a_number_is_that_product(text: str, expected: list[tuple[int, int]]) -> None:
    u = said(text)
    assert (u.intent, items(u), u.ambiguity, u.unmatched) == ("order_items", expected, None, ())


def test_clipped_name_needs_a_number_after_it() -> None:
    # 「だいこ」 alone, or 「ほうれん」 in a sentence, is an ordinary word, not an order.
    assert said("だいこ").intent == "unknown"
    assert said("ほうれん、と言えば").items == ()


def test_a_clip_two_names_begin_with_is_neither() -> None:
    assert "さつま" not in {stem for stem, _ in _index(_rows(CATALOGUE)).stems}
    u = said("さつま2本")
    assert (u.intent, u.items) == ("unknown", ())


def test_a_clip_that_is_a_whole_name_is_not_a_stem() -> None:
    # 「はくさい」 is 白菜 itself, not a clip of 「はくさいづけ」 (白菜漬) to fall back on.
    pickles = P(10, "白菜漬", "はくさいづけ", "袋", "漬物")
    cabbage = P(11, "白菜", "はくさい", "玉")
    stems = {stem for stem, _ in _index(_rows([cabbage, pickles])).stems}
    assert "はくさい" not in stems and "はくさいづ" in stems


# --- one piece in the brackets ----------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("食パン一斤", [(3, 1)]),
    ("食パン1斤ください", [(3, 1)]),
    ("牛乳1リットル", [(2, 1)]),
])
def test_the_size_of_one_in_the_name_is_one(text: str, expected: list[tuple[int, int]]) -> None:
    u = said(text)
    assert (u.intent, items(u), u.ambiguity) == ("order_items", expected, None)


def test_one_piece_is_only_the_bracket_size_not_any_count() -> None:
    # A bare name still asks how many; another number of 斤 is a unit question, never 1 silently;
    # 「卵10個」 names the pack of ten, which is not "one", so it asks.
    assert said("食パン").ambiguity.kind == "quantity"          # type: ignore[union-attr]
    u = said("食パン2斤")
    assert u.items == () and u.ambiguity is not None and u.ambiguity.choices[0].quantity == 2
    u = said("卵10個")
    assert u.items == () and u.ambiguity is not None and u.ambiguity.kind == "quantity"
    assert said("食パン2袋").items[0].quantity == 2


# --- ば for を, before a number only -------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("キャベツば1玉", [(5, 1)]),
    ("大根ば一本と牛乳ば二本", [(1, 1), (2, 2)]),
])
def test_ba_before_a_number_is_the_object_particle(text: str, expected: list[tuple[int, int]]) -> None:
    u = said(text)
    assert (u.intent, items(u), u.ambiguity, u.unmatched) == ("order_items", expected, None, ())


@pytest.mark.parametrize("text, expected", [
    ("だいこんばごほん", [(1, 5)]),
    ("大根ばろっぽん", [(1, 6)]),
    ("大根ばななほん", [(1, 7)]),
    ("大根ばはっぽん", [(1, 8)]),
    ("大根ばじゅっぽん", [(1, 10)]),
    ("キャベツばさんたま", [(5, 3)]),
    ("キャベツばにけろ", [(5, 2)]),       # a bare kana number, split off by the analyser as its own word
    ("だいこんおごほん", [(1, 5)]),       # お typed for を takes the same numbers
    ("大根はっぽん", [(1, 8)]),           # はっ is 8, not the particle は
])
def test_ba_before_a_kana_number_is_the_object_particle(text: str, expected: list[tuple[int, int]]) -> None:
    # The numbers are the ones ``quantities`` reads (ご, ろっ, なな, はっ, じゅっ …), not a list of their own.
    u = said(text)
    assert (u.intent, items(u), u.ambiguity, u.unmatched) == ("order_items", expected, None, ())


def test_ba_not_before_a_number_is_kept_as_a_word() -> None:
    # 「ばなな」 is not sold here: were ば dropped, its なな would be read as 7 キャベツ, a silent guess.
    u = said("キャベツばなな")
    assert u.items == () and u.unmatched == ("ばなな",) and u.ambiguity is not None
    assert said("キャベツばんそうこう2箱").unmatched == ("ばんそうこう2箱",)


# --- けろ / けれ as a please -----------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("大根1本けろ", [(1, 1)]),
    ("大根1本けれ", [(1, 1)]),
    ("キャベツば1玉けろ", [(5, 1)]),
    ("大根2本と牛乳1本けろ", [(1, 2), (2, 1)]),
])
def test_kero_is_a_please_not_a_word_to_look_up(text: str, expected: list[tuple[int, int]]) -> None:
    u = said(text)
    assert (u.intent, items(u), u.unmatched) == ("order_items", expected, ())


def test_kero_without_a_number_still_asks_how_many() -> None:
    u = said("キャベツけろ")
    assert u.items == () and u.unmatched == () and u.ambiguity is not None and u.ambiguity.kind == "quantity"


def test_other_endings_are_still_said_back() -> None:
    # Only けろ/けれ were added: an unknown ending is not silently swallowed.
    assert said("大根2本くれろ").unmatched == ("くれろ",)


# --- one question at a time, nothing dropped ----------------------------------------------------------

def test_products_waiting_behind_the_question_are_named() -> None:
    u = said("大根と牛乳とキャベツば1玉")
    assert u.ambiguity is not None and u.ambiguity.product_id == DAIKON.id
    assert items(u) == [(CABBAGE.id, 1)] and u.pending == ("牛乳",)
    # Its words are kept as said, to be read again once the question is answered (``waiting``).
    assert u.pending_said == ("牛乳と",) and said("大根と卵2個ください").pending_said == ("卵2個ください",)
    assert said("大根2本と牛乳").pending == ()         # the only question is 牛乳's own
