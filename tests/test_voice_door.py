"""One order per door per day on the phone line (issue #9), through signed Twilio webhooks and the real
step handlers: a second call the same day adds to the first order (one order, one fee, read back as
such), and the same いつもの again a few minutes later is a question (1 / 2), not a second order."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from orders.models import Order, OrderAddition
from orders.service import LineItem, place_order
from core.db import db
from outbox.models import OutboxMessage
from shops.models import Product
from tests.conftest import DEFAULT_NOW
from tests.voice_sim import RESIDENT_MOBILE, RESIDENT_PHONE, CallSim, seed_town, voice_app

__all__ = ["voice_app"]


def _orders(app: Any) -> list[Order]:
    with db.reading(app) as session:
        return list(session.scalars(select(Order).where(Order.delivery_date == DEFAULT_NOW.date())
                                    .order_by(Order.id).options(selectinload(Order.lines))))


def _stock(app: Any, product_id: int) -> int | None:
    with db.reading(app) as session:
        return session.get(Product, product_id).stock  # type: ignore[union-attr]


def _usual_call(app: Any) -> None:
    call = CallSim(app.test_client(), RESIDENT_PHONE)
    call.dial_in()
    call.press("1")
    assert "ご注文を承りました" in "".join(call.press("1").said)


def test_second_call_the_same_day_adds_to_the_first_order(voice_app: Any) -> None:
    town = seed_town(voice_app)
    _usual_call(voice_app)
    [first] = _orders(voice_app)
    voice_app.extensions["core.clock"].advance(timedelta(minutes=30))
    call = CallSim(voice_app.test_client(), RESIDENT_PHONE)
    call.dial_in()
    assert "人参を2袋、かごに入れました" in "".join(call.speak("にんじんをにふくろください").said)
    review = "".join(call.press("2").said)
    assert f"注文番号{first.id}番のご注文に追加します" in review and "配達料はかかりません" in review
    assert "追加する品物は、合計200円です" in review and "配達料100円を合わせて" not in review
    assert "このとおり追加するには1を" in review
    done = "".join(call.press("1").said)
    assert f"注文番号{first.id}番のご注文に追加しました" in done and "配達料は1回分のままです" in done
    [order] = _orders(voice_app)                                  # one order, one stop, one fee
    assert order.id == first.id and order.total_yen == 980 + 200
    assert sorted(line.name for line in order.lines) == sorted(["人参", "大根", "牛乳", "りんご"])
    assert _stock(voice_app, town.product_ids["人参"]) == 8
    with db.reading(voice_app) as session:
        sms = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "order_added")).all()
    assert [m.recipient for m in sms] == [RESIDENT_MOBILE]
    assert f"注文番号 {order.id}" in sms[0].payload["body"] and "追加：人参 2袋" in sms[0].payload["body"]


def test_the_same_usual_again_minutes_later_is_a_question(voice_app: Any) -> None:
    town = seed_town(voice_app)
    _usual_call(voice_app)
    [first] = _orders(voice_app)
    voice_app.extensions["core.clock"].advance(timedelta(minutes=3))
    call = CallSim(voice_app.test_client(), RESIDENT_PHONE)
    call.dial_in()
    readback = "".join(call.press("1").said)
    assert f"注文番号{first.id}番のご注文に追加します" in readback
    question = "".join(call.press("1").said)
    assert f"さきほど同じご注文、注文番号{first.id}番を承りました" in question
    assert "もう一度同じものを追加しますか" in question and "追加するには1を、追加しないには2を" in question
    assert _stock(voice_app, town.product_ids["大根"]) == 20 - 2 * 3   # nothing taken
    no = "".join(call.press("2").said)
    assert "追加はしませんでした" in no
    [order] = _orders(voice_app)
    assert order.total_yen == 980
    with db.reading(voice_app) as session:
        assert session.scalars(select(OrderAddition)).all() == []
    # いつもの again, and 1 (yes) this time: added on purpose, still one order.
    call.press("1")
    call.press("1")
    done = "".join(call.press("1").said)
    assert f"注文番号{first.id}番のご注文に追加しました" in done
    [order] = _orders(voice_app)
    assert order.id == first.id and order.total_yen == 980 + 880
    assert _stock(voice_app, town.product_ids["大根"]) == 20 - 2 * 4


def test_a_line_order_of_the_day_is_read_back_as_the_order_to_add_to(voice_app: Any) -> None:
    """Ordered earlier by another channel (LINE, a family member): the phone adds to that order."""
    town = seed_town(voice_app, with_history=False)
    with db.transaction(voice_app) as session:
        line_order = place_order(session, resident_id=town.resident_id, placed_by="family:1", channel="line",
                                 items=[LineItem(town.product_ids["卵"], 1)], now=DEFAULT_NOW).id
    voice_app.extensions["core.clock"].advance(timedelta(minutes=20))
    call = CallSim(voice_app.test_client(), RESIDENT_PHONE)
    call.dial_in()
    call.speak("だいこんをいっぽん")
    assert f"注文番号{line_order}番のご注文に追加します" in "".join(call.press("2").said)
    call.press("1")
    [order] = _orders(voice_app)
    assert order.id == line_order and sorted(l.name for l in order.lines) == ["卵", "大根"]
    assert order.total_yen == 280 + 150 + 100
