"""Whole phone calls, driven by a simulated Twilio + caller (signed requests, TwiML followed)."""

from __future__ import annotations

from tests.accounts_support import sign_in
import re
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from places.models import District
from orders.models import Order, OrderStatus
from core.db import db
from core.models import Conversation
from outbox.models import OutboxMessage
from residents.models import VoiceMessage
from shops.models import Product
from tests.voice_sim import (RESIDENT_MOBILE, RESIDENT_PHONE, UNKNOWN_PHONE, CallSim, seed_town,
                             voice_app)

__all__ = ["voice_app"]


def _orders(app: Any) -> list[Order]:
    with db.reading(app) as session:
        return list(session.scalars(select(Order).where(Order.channel == "phone").order_by(Order.id)
                                    .options(selectinload(Order.lines))))


def _stock(app: Any, product_id: int) -> int | None:
    with db.reading(app) as session:
        return session.get(Product, product_id).stock


def test_usual_order_in_two_presses(voice_app: Any) -> None:
    town = seed_town(voice_app)
    call = CallSim(voice_app.test_client(), RESIDENT_PHONE)
    greeting = call.dial_in()
    assert "長井 花子様" in "".join(greeting.said)
    assert "いつものご注文は1" in "".join(greeting.said)
    readback = call.press("1")
    text = "".join(readback.said)
    # Every line with its price, the fee, the total, the day and the window — before anything counts.
    for expected in ("大根、2本、300円", "りんご、3個、360円", "牛乳、1本、220円", "配達料100円", "合計980円",
                     "12月1日、火曜日", "午後1時から午後5時"):
        assert expected in text, expected
    assert _orders(voice_app) == []
    done = call.press("1")
    assert "ご注文を承りました" in "".join(done.said)
    orders = _orders(voice_app)
    assert len(orders) == 1 and orders[0].total_yen == 980 and orders[0].status is OrderStatus.CONFIRMED
    assert call.presses == 2
    assert f"注文番号は{orders[0].id}番" in "".join(done.said)
    assert "確認のショートメールを、携帯電話にお送りします" in "".join(done.said)
    # The SMS confirmation goes to the resident's mobile through the outbox.
    with db.reading(voice_app) as session:
        sms = session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "sms")).all()
    assert [m.recipient for m in sms] == [RESIDENT_MOBILE]
    assert str(orders[0].id) in sms[0].payload["body"]
    bye = call.silence()
    assert bye.waiting_for == "hangup"
    assert _stock(voice_app, town.product_ids["大根"]) == 20 - 2 * 3


def test_item_by_item_by_keys(voice_app: Any) -> None:
    town = seed_town(voice_app, with_history=False)
    call = CallSim(voice_app.test_client(), RESIDENT_PHONE)
    call.dial_in()
    kinds = call.press("2")
    assert "野菜は1。果物は2。" in "".join(kinds.said)
    items = call.press("1")
    assert "大根、1本150円は1。人参、1袋100円は2。" in "".join(items.said)
    qty = call.press("1")
    assert "いくつにしますか" in "".join(qty.said)
    assert qty.element is not None and qty.element.get("finishOnKey") == "#"
    more = call.press("3#")
    assert "大根を3本、かごに入れました" in "".join(more.said)
    call.press("1")                      # more items: back to the 野菜 list
    call.press("2")                      # 人参
    call.press("4#")                     # 4袋
    review = call.press("2")
    text = "".join(review.said)
    assert "大根、3本、450円" in text and "人参、4袋、400円" in text and "合計950円" in text
    call.press("1")
    orders = _orders(voice_app)
    assert [(line.name, line.quantity) for line in orders[0].lines] == [("大根", 3), ("人参", 4)]
    assert _stock(voice_app, town.product_ids["人参"]) == 10 - 4


def test_long_lists_page_and_same_names_say_the_shop(voice_app: Any) -> None:
    from tests import factories as f

    seed_town(voice_app, with_history=False)
    with db.transaction(voice_app) as session:
        other = f.make_shop(session, name="ながい朝市", kana="ながいあさいち")
        f.make_product(session, other, name="大根", kana="だいこん", price_yen=130)
        for n, kind in enumerate(("魚", "肉", "豆腐", "米", "菓子", "花")):
            f.make_product(session, other, name=f"品{n}", kana=f"しな{n}", category=kind)
    call = CallSim(voice_app.test_client(), RESIDENT_PHONE)
    call.dial_in()
    first = "".join(call.press("2").said)
    # At most four choices at a time; 9 hears the next ones.
    assert "ほかの種類は9" in first and "野菜は1。果物は2。" in first and "は5" not in first
    second = "".join(call.press("9").said)
    assert "ほかの種類は9" in second and "豆腐" in second and "野菜" not in second and "は5" not in second
    third = "".join(call.press("9").said)
    assert "花は3" in third and "ほかの種類" not in third
    assert "花は3" in "".join(call.press("9").said)        # the last page: 9 repeats it
    call = CallSim(voice_app.test_client(), RESIDENT_PHONE)
    call.dial_in()
    call.press("2")
    veg = "".join(call.press("1").said)
    # Another shop sells 大根 too: 「ながい朝市の大根」, nothing in brackets read out.
    assert "やまびこ直売所の大根、1本150円は1" in veg and "ながい朝市の大根、1本130円は3" in veg
    assert "（" not in veg
    added = "".join(call.press("3").said and call.press("1#").said)
    assert "ながい朝市の大根を1本、かごに入れました" in added
    review = "".join(call.press("2").said)
    assert "ながい朝市の大根、1本、130円" in review and "12月1日、火曜日の、午後1時から" in review


def test_shop_name_said_lists_that_shop(voice_app: Any) -> None:
    seed_town(voice_app, with_history=False)
    call = CallSim(voice_app.test_client(), RESIDENT_PHONE)
    call.dial_in()
    call.press("2")
    listing = "".join(call.speak("まちの商店").said)
    assert "牛乳、1本220円は1" in listing and "大根" not in listing.split("お話しください")[1]


def test_item_by_speech_with_japanese_numbers(voice_app: Any) -> None:
    seed_town(voice_app, with_history=False)
    call = CallSim(voice_app.test_client(), RESIDENT_PHONE)
    call.dial_in()
    shops = call.press("2")
    gather = shops.element
    assert gather is not None and "大根" in gather.get("hints", "")
    added = call.speak("大根を二本と牛乳ひとつ")
    assert "大根を2本" in "".join(added.said) and "牛乳を1本" in "".join(added.said)
    # Said without a number: the line asks how many.
    call.press("1")
    asked = call.speak("りんご")
    assert "いくつにしますか" in "".join(asked.said)
    half = call.speak("半分")
    assert "半分" in "".join(half.said)            # refused clearly, asked again
    call.speak("みっつ")
    review = call.press("2")
    assert "りんご、3個" in "".join(review.said)
    call.speak("はい")
    order = _orders(voice_app)[0]
    assert sorted((line.name, line.quantity) for line in order.lines) == [("りんご", 3), ("大根", 2), ("牛乳", 1)]


def test_read_back_then_change(voice_app: Any) -> None:
    seed_town(voice_app)
    call = CallSim(voice_app.test_client(), RESIDENT_PHONE)
    call.dial_in()
    call.press("1")                       # いつもの read back
    edit = call.press("2")                # change it
    assert "品物を減らしたり取り消したり" in "".join(edit.said)
    remove = call.press("1")
    assert "牛乳、1本は3" in "".join(remove.said)
    review = call.press("3")              # drop 牛乳
    text = "".join(review.said)
    assert "牛乳を取り消しました" in text and "牛乳" not in text.split("取り消しました")[1]
    assert "合計760円" in text
    call.press("1")
    order = _orders(voice_app)[0]
    assert [line.name for line in order.lines] == ["大根", "りんご"] and order.total_yen == 760


def test_check_and_cancel(voice_app: Any) -> None:
    town = seed_town(voice_app)
    first = CallSim(voice_app.test_client(), RESIDENT_PHONE)
    first.dial_in()
    first.press("1")
    first.press("1")
    assert _stock(voice_app, town.product_ids["牛乳"]) == 10 - 3
    call = CallSim(voice_app.test_client(), RESIDENT_PHONE)
    call.dial_in()
    listing = call.press("3")
    text = "".join(listing.said)
    assert "12月1日、火曜日の午後にお届けのご注文です" in text and "合計980円" in text
    confirm = call.press("1")
    assert "取り消します" in "".join(confirm.said)
    done = call.press("1")
    assert "ご注文を取り消しました" in "".join(done.said)
    assert _orders(voice_app)[0].status is OrderStatus.CANCELLED
    assert _stock(voice_app, town.product_ids["牛乳"]) == 10 - 2
    again = call.press("3")
    assert "これからお届けするご注文はありません" in "".join(again.said)


def test_unknown_caller_leaves_a_recorded_message(voice_app: Any) -> None:
    seed_town(voice_app)
    call = CallSim(voice_app.test_client(), UNKNOWN_PHONE)
    hello = call.dial_in()
    assert "まだ登録されていない" in "".join(hello.said)
    rec = call.press("1")
    assert rec.waiting_for == "record"
    assert rec.element is not None and rec.element.get("maxLength") == "120"
    bye = call.recorded("https://api.twilio.com/2010-04-01/Accounts/ACtest/Recordings/RE1", 23)
    assert bye.waiting_for == "hangup"
    with db.reading(voice_app) as session:
        message = session.scalars(select(VoiceMessage)).one()
    assert (message.from_number, message.recording_seconds, message.purpose) == (UNKNOWN_PHONE, 23, "registration")
    assert message.recording_url and message.recording_url.endswith("/RE1")
    staff = voice_app.test_client()
    assert staff.get("/voice/messages").status_code == 302          # staff only: names and numbers
    sign_in(staff)
    page = staff.get("/voice/messages").get_data(as_text=True)
    assert UNKNOWN_PHONE in page and "登録の申し込み" in page and "未対応" in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    assert staff.post(f"/voice/messages/{message.id}/handled").status_code == 400     # no CSRF token
    staff.post(f"/voice/messages/{message.id}/handled", data={"csrf_token": token.group(1)})
    with db.reading(voice_app) as session:
        assert session.get(VoiceMessage, message.id).handled_at is not None


def test_unknown_caller_operator(voice_app: Any) -> None:
    seed_town(voice_app)
    call = CallSim(voice_app.test_client(), UNKNOWN_PHONE)
    call.dial_in()
    dial = call.press("0")
    assert dial.waiting_for == "dial"
    assert dial.element is not None and dial.element.find("Number").text == "+81238840000"


def test_silence_twice_reaches_operator(voice_app: Any) -> None:
    seed_town(voice_app)
    call = CallSim(voice_app.test_client(), RESIDENT_PHONE)
    call.dial_in()
    again = call.silence()
    assert again.waiting_for == "gather" and "いつものご注文は1" in "".join(again.said)
    human = call.silence()
    assert human.waiting_for == "dial" and "オペレーター" in "".join(human.said)
    # Nobody answers: the caller can leave a message for a callback.
    rec = call.dial_result("no-answer")
    assert rec.waiting_for == "record"
    call.recorded("https://api.twilio.com/rec/RE2", 9)
    with db.reading(voice_app) as session:
        assert session.scalars(select(VoiceMessage.purpose)).one() == "callback"


def test_garbage_digits_then_operator(voice_app: Any) -> None:
    seed_town(voice_app)
    call = CallSim(voice_app.test_client(), RESIDENT_PHONE)
    call.dial_in()
    wrong = call.press("7")
    assert "聞き取れませんでした" in "".join(wrong.said) and wrong.waiting_for == "gather"
    nine = call.press("9")                 # 9 repeats without counting as a failure
    assert "いつものご注文は1" in "".join(nine.said)
    human = call.press("*")
    assert human.waiting_for == "dial"


def test_zero_reaches_operator_at_every_level(voice_app: Any) -> None:
    seed_town(voice_app)
    for path in ([], ["1"], ["2"], ["2", "1"], ["2", "1", "1"], ["3"]):
        call = CallSim(voice_app.test_client(), RESIDENT_PHONE)
        call.dial_in()
        for key in path:
            call.press(key)
        assert call.last and call.last.waiting_for == "gather"
        assert call.press("0").waiting_for == "dial", path


def test_twilio_retry_places_one_order(voice_app: Any) -> None:
    seed_town(voice_app)
    call = CallSim(voice_app.test_client(), RESIDENT_PHONE)
    call.dial_in()
    call.press("1")
    first = call.press("1")
    again = call.retry_last()
    assert again.body == first.body
    assert len(_orders(voice_app)) == 1
    with db.reading(voice_app) as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)
                              .where(OutboxMessage.channel == "sms")) == 1


def test_retry_of_incoming_is_the_same_greeting(voice_app: Any) -> None:
    seed_town(voice_app)
    call = CallSim(voice_app.test_client(), RESIDENT_PHONE)
    first = call.dial_in()
    assert call.dial_in().body == first.body
    with db.reading(voice_app) as session:
        assert session.scalar(select(func.count()).select_from(Conversation)) == 1


def test_call_survives_a_process_restart(voice_app: Any, database_url: str, clock: Any, tmp_path: Any) -> None:
    from otodoke import create_app
    from tests.voice_sim import voice_config

    seed_town(voice_app, with_history=False)
    call = CallSim(voice_app.test_client(), RESIDENT_PHONE)
    call.dial_in()
    call.press("2")
    call.press("1")                        # listening to やまびこ直売所's items
    fresh = create_app(voice_config(database_url, tmp_path), clock=clock)
    try:
        call.client = fresh.test_client()  # the next webhook lands on a new process
        call.press("1")
        call.press("2#")
        call.press("2")
        call.press("1")
        order = _orders(fresh)[0]
        assert [(line.name, line.quantity) for line in order.lines] == [("大根", 2)]
    finally:
        db.bound(fresh).engine.dispose()


def test_forged_or_missing_signature_is_refused(voice_app: Any) -> None:
    seed_town(voice_app)
    call = CallSim(voice_app.test_client(), RESIDENT_PHONE)
    assert call.post("/voice/incoming", call.params(), signature="bm90IGEgc2lnbmF0dXJl").status == 403
    assert call.post("/voice/incoming", call.params(), signature="").status == 403
    wrong_key = CallSim(voice_app.test_client(), RESIDENT_PHONE, token="someone-elses-token")
    assert wrong_key.dial_in().status == 403
    # Signed for the inside URL instead of the public one (what a proxy would break): refused too.
    inside = CallSim(voice_app.test_client(), RESIDENT_PHONE, base="http://localhost")
    assert inside.dial_in().status == 403
    with db.reading(voice_app) as session:
        assert session.scalar(select(func.count()).select_from(Conversation)) == 0
    # A genuine call then goes through, and a forged step inside it changes nothing.
    call.dial_in()
    path = call.last.action if call.last else ""
    assert call.post(path or "", call.params(Digits="1"), signature="AAAA").status == 403
    with db.reading(voice_app) as session:
        state = session.scalars(select(Conversation.state)).one()
    assert state["step"] == "menu" and state["seq"] == 1


def test_public_url_with_port_and_query_validates(voice_app: Any) -> None:
    seed_town(voice_app)
    call = CallSim(voice_app.test_client(), RESIDENT_PHONE, base="https://otodoke.example.jp:443")
    assert call.dial_in().status == 200


def test_item_said_at_the_main_menu_starts_an_order(voice_app: Any) -> None:
    seed_town(voice_app, with_history=False)
    call = CallSim(voice_app.test_client(), RESIDENT_PHONE)
    call.dial_in()
    added = call.speak("だいこんをにほんください")
    assert "大根を2本、かごに入れました" in "".join(added.said)
    review = call.press("2")
    assert "大根、2本、300円" in "".join(review.said)


def test_sold_out_after_it_went_into_the_basket(voice_app: Any) -> None:
    town = seed_town(voice_app, with_history=False)
    call = CallSim(voice_app.test_client(), RESIDENT_PHONE)
    call.dial_in()
    call.press("2")                       # new order
    call.press("1")                       # 野菜
    call.press("2")                       # 人参
    call.press("2#")                      # 2袋
    with db.transaction(voice_app) as session:
        session.get(Product, town.product_ids["人参"]).stock = 1   # someone else bought them
    review = call.press("2")
    text = "".join(review.said)
    assert "売り切れ" in text and "品物を減らしたり取り消したり" in text
    assert _orders(voice_app) == []


def test_usual_with_a_sold_out_item_says_so(voice_app: Any) -> None:
    town = seed_town(voice_app)
    with db.transaction(voice_app) as session:
        session.get(Product, town.product_ids["牛乳"]).stock = 0
    call = CallSim(voice_app.test_client(), RESIDENT_PHONE)
    call.dial_in()
    readback = call.press("1")
    text = "".join(readback.said)
    assert "牛乳は売り切れです" in text and "合計760円" in text
    call.press("1")
    assert [line.name for line in _orders(voice_app)[0].lines] == ["大根", "りんご"]


def test_shared_landline_asks_who_is_calling(voice_app: Any) -> None:
    from tests import factories as f

    town = seed_town(voice_app)
    with db.transaction(voice_app) as session:
        husband = f.make_resident(session, session.get(District, town.district_id), name="長井 一郎",
                                  phone=RESIDENT_PHONE, mobile_phone=None)
        husband_id = husband.id
    call = CallSim(voice_app.test_client(), RESIDENT_PHONE)
    who = "".join(call.dial_in().said)
    assert "どなたのご用件ですか" in who and "長井 花子様は1" in who and "長井 一郎様は2" in who
    menu = "".join(call.press("2").said)
    assert "長井 一郎様ですね" in menu and "いつものご注文は1" in menu
    with db.reading(voice_app) as session:
        state = session.scalars(select(Conversation.state)).one()
    assert state["resident_id"] == husband_id != town.resident_id
    # From her own mobile, no question: the number is hers alone.
    mobile = CallSim(voice_app.test_client(), RESIDENT_MOBILE)
    assert "長井 花子様、いつも" in "".join(mobile.dial_in().said)


def test_edit_add_and_start_over(voice_app: Any) -> None:
    seed_town(voice_app)
    call = CallSim(voice_app.test_client(), RESIDENT_PHONE)
    call.dial_in()
    call.press("1")                        # usual read back
    call.press("2")                        # change
    kinds = "".join(call.press("2").said)  # add an item
    assert "品物の種類を選んでください" in kinds
    call.press("2")                        # 果物
    call.press("1")                        # りんご
    call.press("1#")
    review = "".join(call.press("2").said)
    assert "りんご、4個、480円" in review  # added to the usual 3
    call.press("2")                        # change again
    fresh = "".join(call.press("3").said)  # start over: empty basket
    assert "品物の種類を選んでください" in fresh
    call.press("1")
    call.press("2")                        # 人参
    call.press("1#")
    review = "".join(call.press("2").said)
    assert "人参、1袋、100円" in review and "大根" not in review and "合計200円" in review


def test_status_callback_and_fallback(voice_app: Any) -> None:
    seed_town(voice_app)
    call = CallSim(voice_app.test_client(), RESIDENT_PHONE)
    call.dial_in()
    ended = call.post("/voice/status", call.params(CallStatus="completed", CallDuration="42"))
    assert ended.status == 204
    with db.reading(voice_app) as session:
        state = session.scalars(select(Conversation.state)).one()
    assert state["call_status"] == "completed" and state["duration_s"] == 42
    sorry = call.post("/voice/fallback", call.params(ErrorCode="11200"))
    assert sorry.waiting_for == "dial" and "申し訳ありません" in "".join(sorry.said)
    assert call.dial_result("completed").waiting_for == "hangup"
    assert call.post("/voice/fallback", call.params(), signature="forged").status == 403


def test_a_crash_in_a_step_still_answers_the_caller(voice_app: Any, caplog: Any) -> None:
    """A broken step (here: call state an older release wrote in another shape) must never leave the
    caller in silence: apology and a person, and nothing of the failed step is kept."""
    seed_town(voice_app, with_history=False)
    call = CallSim(voice_app.test_client(), RESIDENT_PHONE)
    call.dial_in()
    with db.transaction(voice_app) as session:
        row = session.scalars(select(Conversation)).one()
        state = dict(row.state)
        state.update(step="review", basket=[["not-an-id", 1]])
        row.state = state
    heard = call.press("1")
    assert heard.status == 200 and heard.waiting_for == "dial"
    assert "申し訳ありません" in "".join(heard.said)
    assert "voice flow failed" in caplog.text
    with db.reading(voice_app) as session:
        assert session.scalars(select(Conversation.state)).one()["seq"] == 1
    assert _orders(voice_app) == []


def test_no_written_confirmation_promised_when_none_can_go(voice_app: Any) -> None:
    seed_town(voice_app, mobile=None)      # landline only, no LINE, no family
    call = CallSim(voice_app.test_client(), RESIDENT_PHONE)
    call.dial_in()
    call.press("1")
    done = "".join(call.press("1").said)
    order_id = _orders(voice_app)[0].id
    assert "ショートメール" not in done and "ライン" not in done
    assert done.count(f"注文番号は{order_id}番") == 2 and "お控えください" in done


@pytest.mark.parametrize("url", ["javascript:alert(document.cookie)", "data:text/html,<script>x</script>",
                                 " javascript:alert(1)", "//evil.example/rec"])
def test_a_recording_address_that_is_not_a_web_url_never_becomes_a_link(voice_app: Any, url: str) -> None:
    seed_town(voice_app)
    call = CallSim(voice_app.test_client(), UNKNOWN_PHONE)
    call.dial_in()
    call.press("1")
    call.recorded(url, 5)
    with db.reading(voice_app) as session:
        message = session.scalars(select(VoiceMessage)).one()
    assert message.recording_url is None
    staff = voice_app.test_client()
    sign_in(staff)
    page = staff.get("/voice/messages").get_data(as_text=True)
    assert "javascript:" not in page and "data:text" not in page and "evil.example" not in page


@pytest.mark.parametrize("url", ["javascript:alert(document.cookie)", "JaVaScRiPt:alert(1)",
                                 "data:text/html,<script>x</script>", "vbscript:msgbox"])
def test_a_stored_non_web_recording_address_is_not_drawn_as_a_link(voice_app: Any, url: str) -> None:
    """The page checks the address again when it draws the link (a row from before the input check,
    or written by other code, must not become a javascript: link)."""
    from datetime import datetime

    from core.clock import JST
    from tests.test_staff_and_driver_pages import _login

    with db.transaction(voice_app) as session:
        session.add(VoiceMessage(call_sid="CAold", from_number=UNKNOWN_PHONE, purpose="registration",
                                 recording_url=url, created_at=datetime(2026, 11, 30, 9, 0, tzinfo=JST)))
    staff = voice_app.test_client()
    _login(staff)
    page = staff.get("/voice/messages").get_data(as_text=True)
    assert UNKNOWN_PHONE[-4:] in page and "録音を聞く" not in page
    assert url.split(":")[0].lower() + ":" not in page.lower()
