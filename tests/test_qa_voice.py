"""Found by calling the sandbox phone line (QA): when a second unusable answer puts the caller
through to a person, the line must not first tell them how to try again; staff see who left a message."""

from __future__ import annotations

from tests.factories import run_link_token
from tests.accounts_support import sign_in
from typing import Any

from sqlalchemy import select

from core.db import db
from residents.models import Resident
from tests.voice_sim import RESIDENT_PHONE, CallSim, seed_town, voice_app  # noqa: F401  (fixture)


def test_second_unusable_quantity_goes_to_a_person_without_retry_advice(voice_app: Any) -> None:  # noqa: F811
    seed_town(voice_app, with_history=False)
    call = CallSim(voice_app.test_client(), RESIDENT_PHONE)
    call.dial_in()
    call.press("2")
    call.press("1")
    call.press("1")                                 # 大根: how many?
    first = call.speak("半分")
    assert first.waiting_for == "gather" and "まるごとの数で" in "".join(first.said)
    second = call.speak("たくさん")
    said = "".join(second.said)
    assert second.waiting_for == "dial" and "オペレーター" in said
    assert "お願いします" not in said and "のように" not in said   # no advice for a retry that never comes
    assert "聞き取れませんでした" in said


def test_messages_page_names_a_known_caller(voice_app: Any) -> None:  # noqa: F811
    seed_town(voice_app)
    call = CallSim(voice_app.test_client(), RESIDENT_PHONE)
    call.dial_in()
    call.silence()
    call.silence()                                  # → operator
    call.dial_result("no-answer")
    call.recorded("https://api.twilio.com/rec/RE9", 8)
    staff = voice_app.test_client()
    sign_in(staff)
    page = staff.get("/voice/messages").get_data(as_text=True)
    with db.reading(voice_app) as session:
        name = session.scalars(select(Resident.name).where(Resident.phone == RESIDENT_PHONE)).first()
    assert name and f"{name} 様" in page and "折り返し依頼" in page
    assert "0" + RESIDENT_PHONE[3:] in page                # the number as staff dial it


def test_driver_page_says_the_resident_called_in_not_at_home(voice_app: Any) -> None:  # noqa: F811
    from delivery.models import RunStop, RunStopOrder
    from tests.test_voice_eta import _answer, _plan_with_stop

    order_id = _plan_with_stop(voice_app)
    with db.reading(voice_app) as session:
        run_id = session.scalars(select(RunStop.run_id).join(RunStopOrder).where(RunStopOrder.order_id == order_id)).one()
    driver = voice_app.test_client()
    url = f"/driver/run/{run_link_token(voice_app, run_id)}"
    assert "本日不在とのお電話" not in driver.get(url).get_data(as_text=True)
    _answer(voice_app, order_id, Digits="2")         # the resident pressed 2 on the ETA call
    assert "本日不在とのお電話" in driver.get(url).get_data(as_text=True)
    staff = voice_app.test_client()
    sign_in(staff)
    assert "本日不在とのお電話" in staff.get(f"/staff/runs/{run_id}/sheet").get_data(as_text=True)


def test_keypad_caller_can_go_on_to_another_kind_of_item(voice_app: Any) -> None:  # noqa: F811
    town = seed_town(voice_app, with_history=False)
    call = CallSim(voice_app.test_client(), RESIDENT_PHONE)
    call.dial_in()
    call.press("2")
    call.press("1")                                 # 野菜
    call.press("1")                                 # 大根
    more = call.press("2#")
    assert "ほかの種類から選ぶには3" in "".join(more.said)
    kinds = call.press("3")
    assert "果物は2" in "".join(kinds.said)
    fruit = call.press("2")
    assert "りんご" in "".join(fruit.said)
    call.press("1")                                 # りんご
    call.press("3#")
    review = "".join(call.press("2").said)
    assert "大根、2本" in review and "りんご、3個" in review
    assert town.product_ids["りんご"]


def test_sold_out_items_are_not_read_out(voice_app: Any) -> None:  # noqa: F811
    from shops.models import Product

    town = seed_town(voice_app, with_history=False)
    with db.transaction(voice_app) as session:
        session.get(Product, town.product_ids["大根"]).stock = 0
    call = CallSim(voice_app.test_client(), RESIDENT_PHONE)
    call.dial_in()
    call.press("2")
    items = "".join(call.press("1").said)           # 野菜
    assert "大根" not in items and "人参、1袋100円は1" in items
