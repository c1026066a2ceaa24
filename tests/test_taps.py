"""Tap counts on LINE (issue #11), walked through /sandbox/line and the real webhook by the same code
as ``make bench-taps`` (benchmarks/taps.py): いつもの ≤ 2, two items from one shop ≤ 6, from two
shops ≤ 8; 「ほかの商品も買う」 stays in the shop, with a way back to all shops."""

from __future__ import annotations

from pathlib import Path

from benchmarks.taps import TARGETS, Resident, buttons, pick, run_walks, sandbox_app, seed
from core.clock import FixedClock


def test_tap_targets_hold(database_url: str, clock: FixedClock, tmp_path: Path) -> None:
    with sandbox_app(database_url, clock, str(tmp_path)) as app:
        seed(app, clock)
        results = {r.name: r for r in run_walks(app, clock)}
    assert set(results) == set(TARGETS)
    for name, walk in results.items():
        assert walk.placed, (name, walk.labels)
        assert walk.taps <= TARGETS[name], (name, walk.taps, walk.labels)
    # The confirmation itself is still a tap of its own: the last one of each walk.
    assert results["1店で2品"].labels[-1].endswith("で注文")
    assert results["いつもの"].labels == ["いつもの", "確定"]


def test_buy_more_stays_in_the_shop_with_a_way_back(database_url: str, clock: FixedClock, tmp_path: Path) -> None:
    with sandbox_app(database_url, clock, str(tmp_path)) as app:
        seed(app, clock)
        users, one_shop, _ = pick(app)
        chat = Resident(app.test_client(), users[0])
        shop_list = chat.tap("a=shops")
        first = next(b for b in buttons(shop_list) if b.card == one_shop[0].shop)
        listing = chat.tap(first.data)
        add = next(b for b in buttons(listing) if b.card == one_shop[0].product and b.label == f"1{one_shop[0].unit}")
        card = buttons(chat.tap(add.data))           # the order card, nothing placed yet
        assert any(b.action == "confirm" for b in card)
        more = next(b for b in card if b.label == "ほかの商品も買う")
        again = chat.tap(more.data)
        titles = {b.card for b in buttons(again) if b.card}
        assert one_shop[1].product in titles          # the same shop's products, not the shop list
        assert one_shop[0].shop not in titles
        back = [b for b in buttons(again) if b.label == "ほかのお店を見る"]
        assert back and "このお店を見る" in {b.label for b in buttons(chat.tap(back[0].data))}
