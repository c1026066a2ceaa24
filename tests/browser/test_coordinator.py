"""A coordinator's day in the browser: sign in with the second factor, register a phone-only resident
from a registration voicemail, take her order, plan the day again (今すぐ計画), move a door to another van
by hand, open a route sheet and a driver's link.

Runs on the pass's database (see tests/browser/conftest.py): SQLite file or PostgreSQL."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, select

from core.db import db
from delivery.models import Plan, Run, RunStop, RunStopOrder
from orders.models import Order
from residents.models import Resident, VoiceMessage
from tests.browser.conftest import DELIVERY_DAY, NOW, Live, Screens
from tests.browser.support import sign_in_coordinator
from tests.jobs_support import run_queued_jobs

pytestmark = pytest.mark.browser


def _voicemail(live: Live) -> int:
    """A registration voicemail as the phone line stores it (an unknown caller left name and address)."""
    with db.transaction(live.app) as session:
        message = VoiceMessage(call_sid="CA-browser-registration", from_number="+81238881234",
                               purpose="registration", recording_seconds=42, created_at=NOW)
        session.add(message)
        session.flush()
        return message.id


def test_a_coordinator_registers_a_resident_and_plans_the_day(page: Any, live: Live, screens: Screens) -> None:
    message_id = _voicemail(live)
    sign_in_coordinator(page, live, screens)
    # the dashboard opens on the next delivery day with orders
    assert f"{DELIVERY_DAY.month}月{DELIVERY_DAY.day}日" in page.locator("body").inner_text()
    screens.check(page, "dashboard")

    # a registration voicemail → the register form, filled from the message → the resident exists
    page.get_by_role("link", name="電話の録音メッセージ").click()
    page.wait_for_url(re.compile(r"/voice/messages"))
    screens.check(page, "voicemails")
    page.get_by_role("link", name="住民として登録").click()
    page.wait_for_url(re.compile(rf"/staff/residents/new\?message={message_id}"))
    assert page.get_by_label("電話番号").input_value().replace("-", "") == "0238881234"
    screens.check(page, "new-resident")
    page.get_by_label("お名前").fill("試験 はる")
    page.get_by_label("ふりがな").fill("しけん はる")
    page.get_by_label("住所").fill("長井市本町2-2")
    page.get_by_label("地区").select_option(label="中央")
    page.get_by_label("個人情報の取り扱いに同意をいただいた").check()
    page.get_by_role("button", name="登録する").click()
    page.wait_for_url(re.compile(r"/voice/messages"))
    assert "試験 はる 様を登録しました" in page.locator("body").inner_text()
    with db.reading(live.app) as session:
        resident = session.scalars(select(Resident).where(Resident.phone == "+81238881234")).one()
        assert resident.line_user_id is None and resident.consented_at is not None
        assert session.get(VoiceMessage, message_id).handled_at is not None
        versions = session.scalar(select(func.max(Plan.version)).where(Plan.delivery_date == DELIVERY_DAY))
    screens.check(page, "voicemails-handled")

    # 電話受付: she phones the office the same day; find her, take her order (quote → 確定)
    page.goto("/staff/")
    page.get_by_role("link", name=re.compile("住民をさがす")).click()
    page.get_by_label("お名前・ふりがな・電話番号").fill("しけん")
    page.get_by_role("button", name="さがす").click()
    screens.check(page, "resident-search")
    page.get_by_role("link", name=re.compile("試験 はる 様")).click()
    page.wait_for_url(re.compile(rf"/staff/residents/{resident.id}$"))
    screens.check(page, "resident")
    page.get_by_role("link", name="電話で注文を受ける").click()
    page.wait_for_url(re.compile(rf"/staff/residents/{resident.id}/order$"))
    screens.check(page, "phone-order")
    page.locator("input[name^=q_]").first.fill("1")
    page.get_by_role("button", name="見積もりを見る").click()
    assert "合計" in page.locator("body").inner_text()
    screens.check(page, "phone-order-quote")
    page.get_by_role("button", name="確定する").click()
    page.wait_for_url(re.compile(r"/staff/orders/\d+$"))
    assert "承りました（電話受付）" in page.locator("body").inner_text()
    screens.check(page, "order-detail")
    with db.reading(live.app) as session:
        (placed,) = session.scalars(select(Order).where(Order.resident_id == resident.id)).all()
        assert placed.channel == "staff" and len(placed.lines) == 1

    # 今すぐ計画: a new version of tomorrow's plan
    page.goto(f"/staff/?date={DELIVERY_DAY.isoformat()}")
    page.get_by_role("button", name=re.compile("今すぐ計画")).click()
    page.wait_for_url(re.compile(r"/staff/plan/confirm"))
    assert "現在の計画は置き換えられます" in page.locator("body").inner_text()
    page.get_by_role("button", name="作り直す").click()
    page.wait_for_url(re.compile(r"/staff/plan/requests/\d+"))
    run_queued_jobs(live.app)          # what the job consumer does; the page refreshes itself
    page.reload()
    assert f"（第{versions + 1}版）を作成しました" in page.locator("body").inner_text()
    page.get_by_role("link", name="担当者ページへ戻る").click()
    page.wait_for_url(re.compile(r"/staff/\?date="))
    screens.check(page, "dashboard-planned")

    # move a door to another van by hand: the order page offers the plan's other runs and the idle vans
    # (the solver may have used one van for the whole day: then only idle vans are offered)
    with db.reading(live.app) as session:
        order_id, from_run, from_van = session.execute(
            select(RunStopOrder.order_id, RunStop.run_id, Run.vehicle_id)
            .join(RunStop, RunStop.id == RunStopOrder.run_stop_id)
            .join(Run, Run.id == RunStop.run_id).join(Plan, Plan.id == Run.plan_id)
            .where(Plan.delivery_date == DELIVERY_DAY, Plan.active.is_(True), RunStop.kind == "delivery",
                   RunStop.status == "pending").order_by(RunStopOrder.order_id).limit(1)).one()
    page.goto(f"/staff/orders/{order_id}")
    body = page.locator("body").inner_text()
    assert "別の車両に移す" in body, body[:1500]
    choice = page.get_by_label("別の車両に移す")
    chosen = choice.locator("option").first.get_attribute("value")
    kind, _, number = chosen.partition(":")
    with db.reading(live.app) as session:
        to_van = (int(number) if kind == "vehicle"
                  else session.scalar(select(Run.vehicle_id).where(Run.id == int(number))))
    assert kind in ("run", "vehicle") and to_van != from_van and chosen != f"run:{from_run}"
    choice.select_option(chosen)
    page.once("dialog", lambda dialog: dialog.accept())     # 「よろしいですか？」
    page.get_by_role("button", name="この車両の最後に移す").click()
    page.wait_for_url(re.compile(rf"/staff/orders/{order_id}$"))
    assert "の最後に移しました" in page.locator("body").inner_text()
    with db.reading(live.app) as session:
        now_on, now_van = session.execute(
            select(RunStop.run_id, Run.vehicle_id).join(RunStopOrder, RunStopOrder.run_stop_id == RunStop.id)
            .join(Run, Run.id == RunStop.run_id).join(Plan, Plan.id == Run.plan_id)
            .where(RunStopOrder.order_id == order_id, Plan.active.is_(True), RunStop.kind == "delivery")).one()
    assert now_van == to_van and (kind == "vehicle" or now_on == int(number))
    assert f"便 {now_on}" in page.locator("body").inner_text()
    screens.check(page, "order-moved")

    # a route sheet, and the driver's link as a QR code
    page.goto(f"/staff/?date={DELIVERY_DAY.isoformat()}")
    page.get_by_role("link", name="ルート表・地図").first.click()
    page.wait_for_url(re.compile(r"/staff/runs/\d+/sheet"))
    assert "配達ルート表" in page.locator("h1").inner_text()
    screens.check(page, "route-sheet")
    page.get_by_role("link", name=re.compile("配達員用リンク")).click()
    page.wait_for_url(re.compile(r"/staff/runs/\d+/link"))
    screens.check(page, "run-link")

    # the day's orders
    page.goto(f"/staff/orders?date={DELIVERY_DAY.isoformat()}")
    screens.check(page, "orders")
    screens.assert_clean()
