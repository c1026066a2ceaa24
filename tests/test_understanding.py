"""The understanding layer on its own (``understanding/``): readings, intents, items, and the
questions it asks instead of guessing. The corpus and both channels are in
``test_understanding_corpus.py`` and ``test_understanding_flows.py``."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

import pytest

from understanding import Understood, normalise, understand
from understanding.analyser import _tokenizer


@dataclass(frozen=True)
class P:
    id: int
    name: str
    kana: str
    unit: str
    category: str = "野菜"


DAIKON = P(1, "大根", "だいこん", "本")
RINGO = P(2, "りんご", "リンゴ", "個", "果物")
NINJIN = P(3, "人参", "にんじん", "袋")
TAMAGO = P(4, "卵（10個）", "たまご じっこ", "パック", "卵")
MILK = P(5, "牛乳（1リットル）", "ぎゅうにゅう", "本", "飲み物")
RICE5 = P(6, "はえぬき 5kg", "はえぬき ごきろ", "袋", "米")
RICE2 = P(7, "はえぬき 2kg", "はえぬき にきろ", "袋", "米")
TSUYA = P(8, "つや姫 5kg", "つやひめ ごきろ", "袋", "米")
CATALOGUE = [DAIKON, RINGO, NINJIN, TAMAGO, MILK, RICE5, RICE2, TSUYA]


def pairs(said: Understood) -> list[tuple[int, int, str]]:
    return [(i.product_id, i.quantity, i.op) for i in said.items]


def test_normalise_folds_width_kana_and_politeness() -> None:
    assert normalise("ダイコン　２本") == normalise("大根2本") == normalise("ﾀﾞｲｺﾝ2本") == "だいこん2ぽん"
    assert normalise("大根を2本お願いします。") == "だいこんを2ぽん"
    assert normalise("十二個") == "12こ"
    assert normalise("") == ""


@pytest.mark.parametrize("text, expected", [
    ("大根2本とりんご3個", [(1, 2, "order"), (2, 3, "order")]),
    ("だいこんをにほん", [(1, 2, "order")]),
    ("ダイコン二本、リンゴ三つください", [(1, 2, "order"), (2, 3, "order")]),
    ("りんごを十二個お願いします", [(2, 12, "order")]),
    ("人参 1袋 と 大根 1本", [(3, 1, "order"), (1, 1, "order")]),
    ("2本の大根", [(1, 2, "order")]),
    ("たまごひとパック", [(4, 1, "order")]),
    ("だいこんにほんとりんごみっつ", [(1, 2, "order"), (2, 3, "order")]),
    ("ぎゅうにゆう2本", [(5, 2, "order")]),           # a typed small ゅ as a large ゆ
    ("つや姫5キロを1袋", [(8, 1, "order")]),
])
def test_items_understood(text: str, expected: list[tuple[int, int, str]]) -> None:
    said = understand(CATALOGUE, text)
    assert said.intent == "order_items" and said.ambiguity is None and not said.problem
    assert pairs(said) == expected


@pytest.mark.parametrize("text, intent", [
    ("こんにちは", "greet"), ("メニューを見せて", "menu"), ("キャンセルしたい", "cancel"),
    ("注文を取り消したい", "cancel"), ("いつものをお願いします", "usual"), ("注文の確認", "check"),
    ("人と話したい", "talk_to_person"), ("使い方がわからない", "help"), ("注文したい", "shops"),
    ("はい", "yes"), ("いいえ", "no"), ("きょうはいい天気", "unknown"),
])
def test_intents(text: str, intent: str) -> None:
    said = understand(CATALOGUE, text)
    assert said.intent == intent and said.items == ()


def test_eggs_by_the_piece_ask_how_many_packs() -> None:
    said = understand(CATALOGUE, "卵2個")
    assert said.items == () and said.ambiguity is not None
    assert said.ambiguity.kind == "unit"
    assert said.ambiguity.question == "卵は10個入り1パックです。何パックにしますか？"
    assert [(c.label, c.quantity) for c in said.ambiguity.choices] == [("1パック（10個）", 1), ("2パック（20個）", 2)]


def test_a_name_without_a_number_asks_how_many() -> None:
    said = understand(CATALOGUE, "たまご")
    assert said.items == () and said.ambiguity is not None and said.ambiguity.kind == "quantity"
    assert said.ambiguity.product_id == TAMAGO.id


def test_a_kind_of_item_asks_which() -> None:
    said = understand(CATALOGUE, "お米")
    assert said.ambiguity is not None and said.ambiguity.kind == "product" and said.ambiguity.category == "米"
    assert {c.product_id for c in said.ambiguity.choices} == {RICE5.id, RICE2.id, TSUYA.id}
    five = understand(CATALOGUE, "はえぬき5キロ")       # the size picks one, the number is still asked
    assert five.ambiguity is not None and five.ambiguity.kind == "quantity" and five.ambiguity.product_id == RICE5.id


def test_pieces_of_something_sold_by_the_bag_are_asked() -> None:
    said = understand(CATALOGUE, "人参2個")
    assert said.items == () and said.ambiguity is not None and said.ambiguity.kind == "unit"


def test_changes_set_add_remove_against_the_basket() -> None:
    basket = {DAIKON.id: 2, MILK.id: 1}
    assert pairs(understand(CATALOGUE, "大根は1本にしてください", basket=basket)) == [(1, 1, "set")]
    assert understand(CATALOGUE, "大根は1本にしてください", basket=basket).intent == "change_set"
    assert pairs(understand(CATALOGUE, "大根いらない", basket=basket)) == [(1, 0, "remove")]
    assert understand(CATALOGUE, "大根いらない", basket=basket).intent == "change_remove"
    assert pairs(understand(CATALOGUE, "牛乳もう1本", basket=basket)) == [(5, 1, "add")]
    assert pairs(understand(CATALOGUE, "大根を1本減らして", basket=basket)) == [(1, 1, "set")]
    assert pairs(understand(CATALOGUE, "大根を2本減らして", basket=basket)) == [(1, 0, "remove")]
    missing = understand(CATALOGUE, "人参いらない", basket=basket)
    assert missing.items == () and "入っていません" in missing.problem


def test_already_in_the_basket_asks_add_or_set() -> None:
    said = understand(CATALOGUE, "大根2本", basket={DAIKON.id: 2})
    assert said.items == () and said.ambiguity is not None and said.ambiguity.kind == "in_basket"
    assert [(c.label, c.op, c.quantity) for c in said.ambiguity.choices] == [
        ("合わせて4本にする", "add", 2), ("2本にする", "set", 2)]


def test_two_numbers_for_one_item_ask_which() -> None:
    said = understand(CATALOGUE, "大根2本、やっぱり3本")
    assert said.items == () and said.ambiguity is not None
    assert [c.quantity for c in said.ambiguity.choices] == [2, 3]


@pytest.mark.parametrize("text", ["大根半分", "大根を0本", "りんご200個", "白菜をはんぶん"])
def test_quantities_never_guessed(text: str) -> None:
    said = understand(CATALOGUE + [P(9, "白菜", "はくさい", "玉")], text)
    assert said.items == () and said.ambiguity is None and said.problem.endswith("。")


def test_unknown_words_are_reported_not_dropped() -> None:
    said = understand(CATALOGUE, "大根2本とメロン1個")
    assert pairs(said) == [(1, 2, "order")] and said.unmatched == ("メロン1個",)   # as written
    middle = understand(CATALOGUE, "大根2本とメロン1個と人参1袋")
    assert pairs(middle) == [(1, 2, "order"), (3, 1, "order")] and middle.unmatched == ("メロン1個",)


def test_same_name_from_two_shops_is_one_item_basket_first() -> None:
    other = P(10, "大根", "だいこん", "本")
    assert pairs(understand([DAIKON, other], "大根1本")) == [(1, 1, "order")]
    assert pairs(understand([DAIKON, other], "大根いらない", basket={10: 2})) == [(10, 0, "remove")]


def test_short_words_only_match_whole_words() -> None:
    sweets = P(11, "大福", "だいふく", "個", "菓子")
    # 「追加して」 reads ついかして: the かし (菓子) inside it is not the sweets category.
    said = understand(CATALOGUE + [sweets], "牛乳を1本追加してください", basket={MILK.id: 1})
    assert pairs(said) == [(5, 1, "add")]


def test_the_package_has_no_channel_or_flask_imports() -> None:
    """Channel-neutral: nothing in understanding/ imports Flask or a channel, and using it loads none."""
    import ast
    from pathlib import Path
    import understanding
    for source in Path(understanding.__file__).parent.glob("*.py"):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert not [n for n in names if n.split(".")[0] in ("flask", "bot", "voice", "twilio", "linebot")], source
    code = ("import sys, understanding; understanding.understand([], '大根'); "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('bot', 'voice', 'twilio', 'linebot')]; "
            "sys.exit(1 if bad else 0)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


def test_the_analyser_is_built_once() -> None:
    assert _tokenizer() is _tokenizer()


def test_what_is_on_screen_or_just_heard_decides_between_two() -> None:
    six = P(12, "卵（6個）", "たまご", "パック", "卵")
    plain = P(13, "卵", "たまご", "パック", "卵")
    assert understand([six, plain], "卵を2パック").ambiguity is not None          # which one?
    assert pairs(understand([six, plain], "卵を2パック", shown={12})) == [(12, 2, "order")]
