"""Catalogue browsing and search by name or kana reading."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from shops.service import list_categories, list_products, list_shops, normalise_text, search_products
from tests.factories import make_product, make_shop


@pytest.fixture
def catalogue(session: Session) -> dict[str, int]:
    farm = make_shop(session, name="あやめ直売所", kind="farm_stand")
    grocer = make_shop(session, name="本町商店", kind="shop")
    gone = make_shop(session, name="閉店した店", kind="shop", active=False)
    ids = {
        "farm": farm.id, "grocer": grocer.id, "gone": gone.id,
        "daikon": make_product(session, farm, name="大根", kana="だいこん", category="野菜").id,
        "tomato": make_product(session, farm, name="ミニトマト", kana="みにとまと", category="野菜").id,
        "apple": make_product(session, farm, name="りんご（ふじ）", kana="りんご ふじ", category="果物").id,
        "juice": make_product(session, grocer, name="りんごジュース", kana="りんごじゅーす", category="飲み物").id,
        "tofu": make_product(session, grocer, name="豆腐", kana="とうふ", category="豆腐・大豆", available=False).id,
        "ghost": make_product(session, gone, name="大根の漬物", kana="だいこんのつけもの", category="漬物").id,
    }
    session.commit()
    return ids


def names(products) -> list[str]:  # type: ignore[no-untyped-def]
    return [p.name for p in products]


def test_shops_by_kind_skip_inactive(session: Session, catalogue) -> None:  # type: ignore[no-untyped-def]
    assert names(list_shops(session)) == ["あやめ直売所", "本町商店"]
    assert names(list_shops(session, kind="farm_stand")) == ["あやめ直売所"]
    with pytest.raises(ValueError):
        list_shops(session, kind="bank")


def test_categories_and_products(session: Session, catalogue) -> None:  # type: ignore[no-untyped-def]
    assert list_categories(session) == ["野菜", "果物", "飲み物"]   # tofu unavailable, ghost's shop closed
    assert list_categories(session, shop_id=catalogue["farm"]) == ["野菜", "果物"]
    assert names(list_products(session, category="野菜")) == ["大根", "ミニトマト"]
    assert names(list_products(session, shop_id=catalogue["grocer"])) == ["りんごジュース"]
    assert names(list_products(session, shop_id=catalogue["grocer"], include_unavailable=True)) == [
        "りんごジュース", "豆腐"]


@pytest.mark.parametrize("query, expected", [
    ("大根", ["大根"]),
    ("だいこん", ["大根"]),
    ("ダイコン", ["大根"]),                 # katakana = hiragana
    ("ﾀﾞｲｺﾝ", ["大根"]),                  # half-width katakana, NFKC
    ("だい　こん", ["大根"]),              # full-width space ignored
    ("とまと", ["ミニトマト"]),            # contains, via the reading
    ("りんご", ["りんご（ふじ）", "りんごジュース"]),  # both prefix matches; shorter name first
    ("りんごじゅーす", ["りんごジュース", ]),        # exact beats prefix
    ("とうふ", []),                        # not on sale
    ("", []),
    ("   ", []),
])
def test_search(session: Session, catalogue, query: str, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    assert names(search_products(session, query)) == expected


def test_search_ranks_exact_over_prefix_over_contains(session: Session) -> None:
    shop = make_shop(session)
    make_product(session, shop, name="ねぎ味噌", kana="ねぎみそ")
    make_product(session, shop, name="青ねぎ", kana="あおねぎ")
    make_product(session, shop, name="ねぎ", kana="ねぎ")
    session.commit()
    assert names(search_products(session, "ネギ")) == ["ねぎ", "ねぎ味噌", "青ねぎ"]
    assert names(search_products(session, "ねぎ", limit=2)) == ["ねぎ", "ねぎ味噌"]


def test_normalise_text() -> None:
    assert normalise_text(" ミニ トマト ") == "みにとまと"
    assert normalise_text("ＡＢＣ１２") == "abc12"
