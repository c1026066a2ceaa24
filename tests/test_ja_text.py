"""The shared Japanese quantity and free-text item parser (orders/ja_text.py)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from orders.ja_text import QuantityError, extract_items, normalise, parse_quantity


@pytest.mark.parametrize("text, expected", [
    ("2", 2), ("２", 2), ("２個", 2), ("2個", 2), ("二本", 2), ("3つ", 3), ("三つ", 3), ("十二", 12),
    ("十", 10), ("二十", 20), ("二十三", 23), ("九十九", 99), ("みっつ", 3), ("ひとつ", 1), ("ふたつ", 2),
    ("とお", 10), ("三袋", 3), ("ひとふくろ", 1), ("ふたふくろ", 2), ("ヒトツ", 1), ("いっぽん", 1),
    ("にほん", 2), ("さんぼん", 3), ("ろっぽん", 6), ("じゅっこ", 10), ("じゅうにこ", 12), ("にじゅう", 20),
    ("ごこ", 5), ("よんこ", 4), ("はっこ", 8), ("きゅうこ", 9), ("1パック", 1), ("2ﾊﾟｯｸ", 2),
    ("３個ください", 3), ("2本でお願いします", 2), ("を5つ", 5), ("12個", 12), ("１２個", 12),
    ("いち", 1), ("なな", 7), ("2 本", 2), ("4枚", 4), ("1束", 1), ("2玉", 2), ("3缶", 3),
])
def test_quantities_understood(text: str, expected: int) -> None:
    assert parse_quantity(text) == expected


@pytest.mark.parametrize("text, code", [
    ("半分", "quantity_fraction"), ("はんぶん", "quantity_fraction"), ("半分ください", "quantity_fraction"),
    ("0.5", "quantity_fraction"), ("1/2", "quantity_fraction"), ("少し", "quantity_fraction"),
    ("0", "quantity_zero"), ("０個", "quantity_zero"), ("ゼロ", "quantity_zero"),
    ("100", "quantity_too_many"), ("百", "quantity_too_many"), ("百本", "quantity_too_many"),
    ("たくさん", "quantity_unclear"), ("", "quantity_unclear"), ("abc", "quantity_unclear"),
    ("一二", "quantity_unclear"), ("ください", "quantity_unclear"), ("-3", "quantity_unclear"),
])
def test_quantities_refused_clearly(text: str, code: str) -> None:
    with pytest.raises(QuantityError) as info:
        parse_quantity(text)
    assert info.value.code == code
    # A sentence a resident can hear: Japanese, polite, short.
    assert info.value.message.endswith("。")
    assert len(info.value.message) < 60
    assert "お願いします" in info.value.message or "まで" in info.value.message


def test_half_message_says_why() -> None:
    with pytest.raises(QuantityError) as info:
        parse_quantity("半分")
    assert "半分" in info.value.message


def test_normalise() -> None:
    assert normalise("ダイコン　２本") == "だいこん2本"
    assert normalise("ﾘﾝｺﾞ 3 個") == "りんご3個"
    assert normalise("") == ""


@dataclass
class P:
    name: str
    kana: str
    id: int = 0


DAIKON = P("大根", "だいこん", 1)
RINGO = P("りんご", "リンゴ", 2)
NINJIN = P("人参", "にんじん", 3)
TAMAGO = P("卵(10個入り)", "たまご", 4)
CATALOGUE = [DAIKON, RINGO, NINJIN, TAMAGO]


def _pairs(text: str) -> list[tuple[str, int]]:
    items, _ = extract_items(text, CATALOGUE)
    return [(i.product.name, i.quantity) for i in items]


@pytest.mark.parametrize("text, expected", [
    ("大根2本とりんご3個", [("大根", 2), ("りんご", 3)]),
    ("大根を2本", [("大根", 2)]),
    ("だいこんをにほん", [("大根", 2)]),
    ("ダイコン二本、リンゴ三つください", [("大根", 2), ("りんご", 3)]),
    ("りんごを十二個お願いします", [("りんご", 12)]),
    ("人参 1袋 と 大根 1本", [("人参", 1), ("大根", 1)]),
    ("2本の大根", [("大根", 2)]),
    ("たまごひとパック", [("卵(10個入り)", 1)]),
    ("卵を2パック", [("卵(10個入り)", 2)]),
    ("大根ください", [("大根", 1)]),
    ("だいこんにほんとりんごみっつ", [("大根", 2), ("りんご", 3)]),
    ("大根に人参を3本", [("大根", 1), ("人参", 3)]),
    ("大根にりんご", [("大根", 1), ("りんご", 1)]),
])
def test_extract_items(text: str, expected: list[tuple[str, int]]) -> None:
    assert _pairs(text) == expected


def test_extract_marks_assumed_quantity() -> None:
    items, unmatched = extract_items("大根", CATALOGUE)
    assert items[0].quantity == 1 and not items[0].quantity_stated
    assert unmatched == []
    items, _ = extract_items("大根3本", CATALOGUE)
    assert items[0].quantity_stated and items[0].matched_text == "大根3本"


def test_extract_reports_unmatched_text() -> None:
    items, unmatched = extract_items("大根2本とキャベツ1個", CATALOGUE)
    assert [(i.product.name, i.quantity) for i in items] == [("大根", 2)]
    assert unmatched == ["きゃべつ1個"]
    items, unmatched = extract_items("こんにちは", CATALOGUE)
    assert items == [] and unmatched and unmatched[0].startswith("こんにち")


def test_extract_refuses_half_and_zero() -> None:
    with pytest.raises(QuantityError) as info:
        extract_items("大根半分", CATALOGUE)
    assert info.value.code == "quantity_fraction"
    with pytest.raises(QuantityError):
        extract_items("大根を0本", CATALOGUE)
    with pytest.raises(QuantityError):
        extract_items("りんご200個", CATALOGUE)


def test_extract_prefers_earlier_product_on_same_name() -> None:
    other = P("大根", "だいこん", 9)
    items, _ = extract_items("大根1本", [other, DAIKON])
    assert items[0].product is other


def test_extract_longest_name_wins() -> None:
    mini = P("ミニトマト", "みにとまと", 5)
    tomato = P("トマト", "とまと", 6)
    items, _ = extract_items("ミニトマト2パックとトマト1個", [tomato, mini])
    assert [(i.product.id, i.quantity) for i in items] == [(5, 2), (6, 1)]
