"""Japanese quantities (understanding/quantities.py), shared by LINE text and phone speech."""

from __future__ import annotations

import pytest

from understanding import QuantityError, parse_quantity


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
