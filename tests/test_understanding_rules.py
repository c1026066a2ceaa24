"""The four rules added for the held-out corpus (#11), each on its own, each with the case it must
not reach: clipped names (``catalogue._stems``, ``scanner._stem_at``), the one-piece size in a name's
brackets (「食パン（1斤）」), ば for を before a number, and けろ/けれ as a please. The held-out share
(``test_understanding_held_out.py``) says they help in bulk; these say what each one does and where it
stops, so that a change to one of them fails here by name."""

from __future__ import annotations

import pytest

from tests.test_understanding import P
from understanding import Understood, understand
from understanding.analyser import reading
from understanding.catalogue import _index, _rows
from understanding.scanner import _strip_particles

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


# --- ば before a kana number, however the analyser splits the words ------------------------------------

APPLE = P(40, "りんご", "りんご", "個", "果物")
BANANA = P(41, "バナナ", "ばなな", "房", "果物")


@pytest.mark.parametrize("text, expected", [
    ("だいこんば にほん", [(1, 2)]),
    ("だいこんばにほん", [(1, 2)]),
    ("大根ば　にほん", [(1, 2)]),          # a full-width space
    ("りんごば みっつ", [(40, 3)]),
    ("りんごばみっつ", [(40, 3)]),         # Sudachi: りんご|ばみ|っつ, ば glued to the number
    ("リンゴば ミッツ", [(40, 3)]),
    ("りんごば いつつ", [(40, 5)]),
    ("りんごば はち", [(40, 8)]),          # the は of はち is the number, not a second particle
    ("りんごを はち", [(40, 8)]),
    ("りんごば なな", [(40, 7)]),          # the typed space: not the ばなな Sudachi reads in 「りんごばなな」
    ("りんごば ななつ", [(40, 7)]),
])
def test_ba_before_a_bare_kana_number_whatever_the_split(text: str, expected: list[tuple[int, int]]) -> None:
    u = understand(CATALOGUE + [APPLE, BANANA], text)
    assert (u.intent, items(u), u.ambiguity, u.unmatched) == ("order_items", expected, None, ())


def test_ba_glued_to_kana_without_a_space_is_a_word() -> None:
    # No space: 「りんごばなな」 is りんご and バナナ (both asked about), never 7 りんご; without バナナ on sale,
    # ばなな is said back.
    u = understand(CATALOGUE + [APPLE, BANANA], "りんごばなな")
    assert u.items == () and u.ambiguity is not None and "バナナ" in u.pending
    u = understand(CATALOGUE + [APPLE], "りんごばなな")
    assert u.items == () and u.unmatched == ("ばなな",)


@pytest.mark.parametrize("starts", [frozenset({4, 5}), frozenset({4})])
def test_a_counted_number_after_ba_does_not_depend_on_the_split(starts: frozenset[int]) -> None:
    # Sudachi may give ば as its own word (starts 4 and 5) or glue it to the number (4 only).
    assert _strip_particles("ばにほん", 4, starts) == "にほん"
    assert _strip_particles("ばみっつ", 4, starts) == "みっつ"


def test_a_bare_kana_number_after_ba_needs_a_word_start() -> None:
    assert _strip_particles("ばなな", 3, frozenset({3, 4})) == "なな"
    assert _strip_particles("ばなな", 3, frozenset({3})) == "ばなな"    # one word: バナナ
    assert _strip_particles("をはち", 3, frozenset({3, 4})) == "はち"


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


# --- a name in kanji reads as that name, whatever its neighbours (#11 held-out misses) ---------------

def test_a_kanji_name_reads_as_itself_before_any_kana() -> None:
    # Sudachi reads 大根 as おおね before some kana (「大根さんぼん」「大根ばなな」): the name as written wins.
    u = said("大根 さんぼんと キャベツ ひとたま")
    assert (u.intent, items(u), u.unmatched) == ("order_items", [(1, 3), (5, 1)], ())
    u = said("大根ばなな")
    assert u.items == () and u.ambiguity is not None and u.ambiguity.product_id == DAIKON.id
    assert u.unmatched == ("ばなな",)


def test_a_kanji_synonym_reads_as_itself_too() -> None:
    # お米 is a category word (synonyms.csv), not a product name; Sudachi reads it およね before
    # 「さんぶくろ」: read おこめ all the same, it asks which rice (with the 3 carried over).
    u = understand([RICE5, RICE2], "お米さんぶくろ")
    assert u.ambiguity is not None and u.ambiguity.category == "米" and u.unmatched == ()
    assert {c.quantity for c in u.ambiguity.choices} == {3}


def test_a_word_that_names_nothing_is_said_back_whole() -> None:
    # Without 大根 for sale, 「大根 さんぼん」 is said back as written, not the 「ぼん」 left after the
    # filler letters (お, ね, さん) are cleaned off its reading.
    without = [p for p in CATALOGUE if p.id != DAIKON.id]
    u = understand(without, "大根 さんぼんと キャベツ ひとたま")
    assert items(u) == [(5, 1)] and u.unmatched == ("大根さんぼん",)
    assert understand(without, "えーと キャベツ1玉").unmatched == ()     # a filler word is still no word


# --- Tohoku greetings and pleases (words.csv) ---------------------------------------------------------

@pytest.mark.parametrize("text", ["おばんです", "おばんでがす", "おはよがんす", "こんちは", "おしょうしな"])
def test_tohoku_greetings_are_greetings(text: str) -> None:
    assert said(text).intent == "greet"


def test_a_greeting_does_not_hide_an_order() -> None:
    u = said("おばんです、キャベツ1玉けろ")
    assert said("こんにちは、キャベツ1玉").unmatched == ()
    assert (u.intent, items(u), u.unmatched) == ("order_items", [(5, 1)], ())


@pytest.mark.parametrize("text", ["キャベツ1玉けらっしゃい", "キャベツ1玉くなんしょ", "キャベツ1玉たのむっす",
                                  "キャベツ1玉くなんしぇ", "キャベツひとつくなんしぇ", "キャベツ1玉ｸﾅﾝｼｪ",
                                  "キャベツば1玉くなんしぇ"])
def test_tohoku_pleases_are_not_words_to_look_up(text: str) -> None:
    u = said(text)
    assert (u.intent, items(u), u.unmatched) == ("order_items", [(5, 1)], ())


def test_a_small_kana_split_off_is_a_sound_or_a_drawn_out_vowel() -> None:
    """Sudachi splits the ぇ of 「くなんしぇ」 off as a symbol with no reading: it belongs to the
    しぇ before it. After a kana of its own vowel (「けろぉ」「くださいぃ」) it only draws the word out."""
    assert reading("くなんしぇ") == "くなんしぇ"
    assert reading("けろぉ") == "けろ" and reading("くださいぃ") == "ください"


@pytest.mark.parametrize("text", ["キャベツ1玉けろぉ", "キャベツ1玉くださいぃ", "キャベツ1玉たのむぅ"])
def test_a_drawn_out_please_is_still_a_please(text: str) -> None:
    u = said(text)
    assert (u.intent, items(u), u.unmatched) == ("order_items", [(5, 1)], ())


# --- a size in the name, and 切れ for fish ------------------------------------------------------------

RICE5 = P(30, "つや姫 5kg", "つやひめ ごきろ", "袋", "米")
RICE2 = P(31, "つや姫 2kg", "つやひめ にきろ", "袋", "米")
SALMON = P(32, "塩鮭（切り身）", "しおざけ きりみ", "枚", "魚")
AGE = P(33, "油揚げ", "あぶらあげ", "枚", "豆腐")
SHOP = [RICE5, RICE2, SALMON, AGE]


@pytest.mark.parametrize("text, expected", [
    ("つや姫の５キロ ひとつ", [(30, 1)]),
    ("つや姫の2キロを1袋", [(31, 1)]),
    ("つや姫5キロ ひとつ", [(30, 1)]),
])
def test_the_no_of_a_size_picks_that_size(text: str, expected: list[tuple[int, int]]) -> None:
    u = understand(SHOP, text)
    assert (u.intent, items(u), u.ambiguity) == ("order_items", expected, None)


def test_the_no_before_a_count_that_is_not_a_size_is_not_dropped() -> None:
    # Only a size in kg: 「つや姫の ふたつ」 still asks which つや姫 (two sizes are sold).
    u = understand(SHOP, "つや姫の ふたつ")
    assert u.items == () and u.ambiguity is not None and u.ambiguity.kind == "product"


@pytest.mark.parametrize("text", ["しおざけ にきれ", "塩鮭2切れ", "しおざけ ふたきれ"])
def test_kire_counts_slices_of_fish(text: str) -> None:
    u = understand(SHOP, text)
    assert (u.intent, items(u), u.ambiguity) == ("order_items", [(32, 2)], None)


def test_kire_is_not_a_mai_outside_fish() -> None:
    # 油揚げ is sold by the 枚 too, but 「2切れ」 of it may be pieces: asked, not placed.
    u = understand(SHOP, "油揚げ2切れ")
    assert u.items == () and u.ambiguity is not None and u.ambiguity.kind == "unit"


# --- "what is there?" is shops (the rule at the shops words in words.csv) ------------------------------

@pytest.mark.parametrize("text, intent", [
    ("何がありますか", "shops"), ("なにが あるんだっけ", "shops"), ("何を売ってるの", "shops"),
    ("メニュー", "menu"), ("最初から", "menu"),
])
def test_what_is_there_is_the_shops_and_menu_is_the_start(text: str, intent: str) -> None:
    assert said(text).intent == intent
