"""A shop and a driver in the browser: the shop signs in and prints its picking list; a driver opens the
run link (as sent by LINE or SMS) and marks a stop 配達完了 with the cash collected.

Runs on the pass's database (see tests/browser/conftest.py): SQLite file or PostgreSQL."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from accounts.models import Account
from core.db import db
from delivery.models import Plan, Run, RunStop
from delivery.runner import driver_link
from delivery.sheets import run_sheet
from shops.models import Shop
from tests.browser.conftest import DELIVERY_DAY, Live, Screens
from tests.browser.support import SHOP, password_step

pytestmark = pytest.mark.browser


def test_a_shop_signs_in_and_prints_its_picking_list(page: Any, live: Live, screens: Screens) -> None:
    page.add_init_script("window.print = () => { window.__printed = (window.__printed || 0) + 1; };")
    password_step(page, screens, SHOP)
    page.wait_for_url(re.compile(r"/shop/$"))
    screens.check(page, "shop-home")
    page.locator(f"#picking-{DELIVERY_DAY.isoformat()}").click()
    page.wait_for_url(re.compile(rf"/shop/picking/{DELIVERY_DAY.isoformat()}"))
    with db.reading(live.app) as session:
        shop_id = session.scalar(select(Account.shop_id).where(Account.email == SHOP))
        shop_name = session.get(Shop, shop_id).name
    assert shop_name in page.locator("body").inner_text()
    screens.check(page, "picking-list")
    page.get_by_role("button", name="印刷する").click()
    assert page.evaluate("window.__printed") == 1
    page.emulate_media(media="print")
    assert not page.get_by_role("button", name="印刷する").is_visible()     # the paper shows the list only
    page.screenshot(path=str(screens_path(screens, "picking-list-print")), full_page=True)
    page.emulate_media(media="screen")
    screens.assert_clean()


def screens_path(screens: Screens, name: str) -> Any:
    from tests.browser.conftest import SCREENS
    return SCREENS / f"{screens.prefix}-{name}.png"


def _run_with_cash_stop(live: Live) -> tuple[str, int, int]:
    """The link the driver of a run of tomorrow's active plan got, and a cash stop on it with its sum."""
    with db.reading(live.app) as session:
        runs = session.scalars(select(Run).join(Plan).where(
            Plan.delivery_date == DELIVERY_DAY, Plan.active.is_(True)).order_by(Run.id))
        for run in runs:
            for stop in run_sheet(session, run.id).stops:
                if stop.kind == "delivery" and stop.status == "pending" and stop.collect.startswith("現金"):
                    total = int(re.sub(r"\D", "", stop.collect.split("円")[0]))
                    return driver_link(live.app, run), stop.id, total
    raise AssertionError("no pending cash stop on tomorrow's plan")


def test_a_driver_marks_a_stop_delivered_with_cash(page: Any, live: Live, screens: Screens) -> None:
    link, stop_id, total = _run_with_cash_stop(live)
    page.goto(link.removeprefix(live.url))
    screens.check(page, "run")
    stop = page.locator(f"#stop-{stop_id}")
    stop.get_by_label("集金額").fill(str(total))
    stop.get_by_role("button", name="配達完了").click()
    page.wait_for_url(re.compile(rf"#stop-{stop_id}$"))
    stop = page.locator(f"#stop-{stop_id}")
    assert "記録しました" in stop.inner_text()
    assert f"完了（集金 {total:,}円）" in stop.inner_text()
    with db.reading(live.app) as session:
        recorded = session.get(RunStop, stop_id)
        assert recorded.status == "done" and recorded.cash_collected_yen == total
    screens.check(page, "run-stop-done")
    screens.assert_clean()
