"""One order per door per day (issue #9), at the service: a second order for the same resident and
delivery day is added to the open one (one order, one fee, stock through the ledger, audit, outbox),
and an identical repeat within minutes is a question, never a second order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orders.door import REPEAT_QUESTION
from orders.errors import OrderError
from orders.models import Order, OrderAddition
from orders.service import (LineItem, add_to_order, cancel_order, open_order_for, order_or_add, place_order,
                            quote_for_door, recent_repeat, reorder_usual_at_door)
from core.clock import JST
from core.models import AuditEntry
from outbox.models import OutboxMessage
from residents.models import FamilyLink
from shops.models import Product, StockMovement
from tests.factories import CREATED, make_outer_district, make_product, make_resident, make_shop

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=JST)


@dataclass
class World:
    resident_id: int
    daikon: int     # 150 yen, stock 20
    apple: int      # 120 yen, stock 5
    bread: int      # 300 yen, unlimited


@pytest.fixture
def world(session: Session) -> World:
    resident = make_resident(session, line_user_id="U-resident")
    session.add(FamilyLink(resident_id=resident.id, line_user_id="U-daughter", name="娘",
                           notify=True, linked_at=CREATED))
    shop = make_shop(session)
    daikon = make_product(session, shop)
    apple = make_product(session, shop, name="りんご", kana="りんご", category="果物", unit="個",
                         price_yen=120, stock=5)
    bread = make_product(session, shop, name="食パン", kana="しょくぱん", category="パン", unit="斤",
                         price_yen=300, stock=None)
    session.commit()
    return World(resident.id, daikon.id, apple.id, bread.id)


def go(session: Session, world: World, *items: tuple[int, int], now: datetime = NOW, **kw: object):  # type: ignore[no-untyped-def]
    values: dict[str, object] = dict(resident_id=world.resident_id, placed_by="resident:1", channel="line",
                                     now=now)
    values.update(kw)
    placed = order_or_add(session, items=[LineItem(p, q) for p, q in items], **values)  # type: ignore[arg-type]
    session.commit()
    return placed


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def stock_of(session: Session, product_id: int) -> int | None:
    session.expire_all()
    return session.get(Product, product_id).stock  # type: ignore[union-attr]


def test_second_order_of_the_day_is_added_one_order_one_fee(session: Session, world: World) -> None:
    first = go(session, world, (world.daikon, 2))
    assert not first.added and first.order.fee_yen == 100
    later = NOW + timedelta(minutes=30)
    quote, into = quote_for_door(session, resident_id=world.resident_id, now=later,
                                 items=[LineItem(world.daikon, 1), LineItem(world.apple, 2)])
    assert into == first.order.id and quote.fee_yen == 0 and quote.total_yen == 150 + 240
    assert quote.delivery_date == first.order.delivery_date and quote.window.code == "pm"
    second = go(session, world, (world.daikon, 1), (world.apple, 2), now=later, into=into,
                placed_by="family:7", idempotency_key="line:two")
    assert second.added and second.order.id == first.order.id
    assert count(session, Order) == 1
    order = session.get(Order, first.order.id)
    assert order is not None
    assert sorted((l.product_id, l.quantity, l.line_total_yen) for l in order.lines) == [
        (world.daikon, 3, 450), (world.apple, 2, 240)]
    assert (order.subtotal_yen, order.fee_yen, order.total_yen) == (690, 100, 790)   # one fee
    # Stock reserved through the ledger, the addition under its own reason.
    assert stock_of(session, world.daikon) == 17 and stock_of(session, world.apple) == 3
    movements = session.scalars(select(StockMovement).where(StockMovement.reason == "addition")
                                .order_by(StockMovement.product_id)).all()
    assert [(m.product_id, m.delta, m.order_id, m.actor) for m in movements] == [
        (world.daikon, -1, order.id, "family:7"), (world.apple, -2, order.id, "family:7")]
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "order.added")).one()
    assert audit.subject_id == str(order.id) and audit.actor == "family:7"
    added = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "order_added")
                            .order_by(OutboxMessage.recipient)).all()
    assert [m.recipient for m in added] == ["U-daughter", "U-resident"]   # and to family, as placing
    text = next(m for m in added if m.recipient == "U-resident").payload["messages"][0]["text"]
    assert text.startswith(f"ご注文に追加しました。（注文番号 {order.id}）")
    assert "追加：大根 1本、りんご 2個" in text and "配達料は1回分" in text and "合計 790円" in text
    family = next(m for m in added if m.recipient == "U-daughter").payload["messages"][0]["text"]
    assert family.startswith("長井 花子") and "さんのご注文に追加しました" in family


def test_open_order_for_the_day(session: Session, world: World) -> None:
    assert open_order_for(session, resident_id=world.resident_id, now=NOW) is None
    order = go(session, world, (world.daikon, 1)).order
    assert open_order_for(session, resident_id=world.resident_id, now=NOW).id == order.id  # type: ignore[union-attr]
    # After the 10:00 cutoff a new order is for the next day: nothing open to add to.
    assert open_order_for(session, resident_id=world.resident_id, now=NOW + timedelta(hours=3)) is None
    cancel_order(session, order_id=order.id, actor="r", channel="line", now=NOW)
    session.commit()
    assert open_order_for(session, resident_id=world.resident_id, now=NOW) is None
    again = go(session, world, (world.daikon, 1))          # cancelled: a new order (with its fee)
    assert not again.added and again.order.id != order.id and count(session, Order) == 2


def test_after_the_cutoff_a_new_order_goes_to_the_next_day(session: Session, world: World) -> None:
    first = go(session, world, (world.daikon, 1))
    late = go(session, world, (world.apple, 1), now=NOW + timedelta(hours=3))
    assert not late.added and late.order.delivery_date == date(2026, 12, 2)
    assert late.order.id != first.order.id
    with pytest.raises(OrderError) as caught:
        add_to_order(session, order_id=first.order.id, items=[LineItem(world.apple, 1)], actor="r",
                     channel="line", now=NOW + timedelta(hours=3))
    assert caught.value.code == "past_cutoff"


def test_identical_repeat_is_a_question_not_an_order(session: Session, world: World) -> None:
    first = go(session, world, (world.daikon, 2), (world.bread, 1))
    soon = NOW + timedelta(minutes=3)
    with pytest.raises(OrderError) as caught:
        go(session, world, (world.bread, 1), (world.daikon, 2), now=soon, idempotency_key="line:again")
    assert caught.value.code == "repeat_order" and caught.value.details["order_id"] == first.order.id
    assert caught.value.message == (f"さきほど同じご注文（注文番号 {first.order.id}）を承りました。"
                                    "もう一度同じものを追加しますか？")
    session.rollback()
    assert count(session, Order) == 1 and count(session, OrderAddition) == 0
    assert stock_of(session, world.daikon) == 18
    # A different basket is no repeat: it is added.
    assert go(session, world, (world.daikon, 1), now=soon).added
    # はい: the same again, on purpose.
    yes = go(session, world, (world.daikon, 2), (world.bread, 1), now=soon, repeat_ok=True)
    assert yes.added and count(session, Order) == 1
    assert sorted((l.product_id, l.quantity) for l in yes.order.lines) == [(world.daikon, 5), (world.bread, 2)]
    # The addition itself is remembered: the third identical tap is asked about too.
    assert recent_repeat(session, resident_id=world.resident_id, now=soon,
                         items=[LineItem(world.daikon, 1)]) is not None
    # Ten minutes on, the same basket is an ordinary addition again.
    later = soon + timedelta(minutes=11)
    assert recent_repeat(session, resident_id=world.resident_id, now=later,
                         items=[LineItem(world.daikon, 2), LineItem(world.bread, 1)]) is None


def test_same_key_adds_once_and_asks_nothing(session: Session, world: World) -> None:
    go(session, world, (world.daikon, 1))
    soon = NOW + timedelta(minutes=20)
    one = go(session, world, (world.apple, 2), now=soon, idempotency_key="call:CA1:4")
    two = go(session, world, (world.apple, 2), now=soon, idempotency_key="call:CA1:4")
    assert one.added and two.added and one.order.id == two.order.id
    assert count(session, OrderAddition) == 1 and stock_of(session, world.apple) == 3
    again = add_to_order(session, order_id=one.order.id, items=[LineItem(world.apple, 2)], actor="r",
                         channel="line", now=soon, idempotency_key="call:CA1:4")
    assert again.id == one.order.id and count(session, OrderAddition) == 1
    stranger = make_resident(session)
    session.commit()
    with pytest.raises(OrderError) as caught:
        order_or_add(session, resident_id=stranger.id, items=[LineItem(world.apple, 1)], placed_by="x",
                     channel="line", now=soon, idempotency_key="call:CA1:4")
    assert caught.value.code == "not_your_order"


def test_sold_out_addition_changes_nothing(session: Session, world: World) -> None:
    order = go(session, world, (world.apple, 2)).order
    soon = NOW + timedelta(minutes=20)
    with pytest.raises(OrderError) as caught:
        go(session, world, (world.daikon, 1), (world.apple, 4), now=soon)
    assert caught.value.code == "sold_out" and "りんご" in caught.value.message
    session.rollback()
    assert stock_of(session, world.apple) == 3 and stock_of(session, world.daikon) == 20
    assert count(session, OrderAddition) == 0
    assert count(session, AuditEntry) == 1     # the placing only
    session.expire_all()
    kept = session.get(Order, order.id)
    assert [(l.product_id, l.quantity) for l in kept.lines] == [(world.apple, 2)]  # type: ignore[union-attr]
    assert kept.total_yen == 340  # type: ignore[union-attr]


def test_lines_already_in_the_order_keep_their_snapshot_price(session: Session, world: World) -> None:
    order = go(session, world, (world.daikon, 1)).order
    session.get(Product, world.daikon).price_yen = 200  # type: ignore[union-attr]
    session.commit()
    quote, _ = quote_for_door(session, resident_id=world.resident_id, now=NOW + timedelta(minutes=20),
                              items=[LineItem(world.daikon, 1)])
    assert quote.lines[0].unit_price_yen == 150
    go(session, world, (world.daikon, 1), now=NOW + timedelta(minutes=20))
    session.expire_all()
    kept = session.get(Order, order.id)
    assert [(l.quantity, l.unit_price_yen, l.line_total_yen) for l in kept.lines] == [(2, 150, 300)]  # type: ignore[union-attr]


def test_the_order_shown_must_still_be_the_open_one(session: Session, world: World) -> None:
    order = go(session, world, (world.daikon, 1)).order
    cancel_order(session, order_id=order.id, actor="r", channel="line", now=NOW)
    session.commit()
    with pytest.raises(OrderError) as caught:
        go(session, world, (world.apple, 1), into=order.id)
    assert caught.value.code == "door_changed" and "もう一度" in caught.value.message
    session.rollback()
    assert count(session, Order) == 1


def test_outer_district_addition_keeps_the_first_window(session: Session) -> None:
    resident = make_resident(session, make_outer_district(session))
    product = make_product(session)
    session.commit()
    first = order_or_add(session, resident_id=resident.id, items=[LineItem(product.id, 1)], placed_by="r",
                         channel="phone", now=NOW, window_code="am")
    quote, into = quote_for_door(session, resident_id=resident.id, items=[LineItem(product.id, 1)],
                                 now=NOW + timedelta(minutes=30), window_code="pm")
    assert into == first.order.id and quote.window.code == "am" and quote.fee_yen == 0
    second = order_or_add(session, resident_id=resident.id, items=[LineItem(product.id, 2)], placed_by="r",
                          channel="phone", now=NOW + timedelta(minutes=30), window_code="pm")
    assert second.added and second.order.window_code == "am" and second.order.total_yen == 450 + 200


def test_usual_is_added_to_the_open_order_and_a_second_tap_is_asked_about(session: Session,
                                                                         world: World) -> None:
    for days in (14, 7):
        place_order(session, resident_id=world.resident_id, items=[LineItem(world.daikon, 1)], placed_by="r",
                    channel="line", now=NOW - timedelta(days=days))
    today = go(session, world, (world.apple, 1)).order          # something else, earlier today
    soon = NOW + timedelta(minutes=15)
    placed, _ = reorder_usual_at_door(session, resident_id=world.resident_id, placed_by="r", channel="line",
                                      now=soon, idempotency_key="line:usual", into=today.id)
    assert placed.added and placed.order.id == today.id
    session.commit()
    assert sorted((l.product_id, l.quantity) for l in placed.order.lines) == [(world.daikon, 1), (world.apple, 1)]
    with pytest.raises(OrderError) as caught:     # いつもの tapped again a minute later
        reorder_usual_at_door(session, resident_id=world.resident_id, placed_by="r", channel="line",
                              now=soon + timedelta(minutes=1), idempotency_key="line:usual2")
    assert caught.value.code == "repeat_order"
    assert caught.value.message == REPEAT_QUESTION.format(order_id=today.id)
    session.rollback()
    # The redelivered first tap is still the first addition, not a question.
    again, _ = reorder_usual_at_door(session, resident_id=world.resident_id, placed_by="r", channel="line",
                                     now=soon + timedelta(minutes=1), idempotency_key="line:usual")
    assert again.added and again.order.id == today.id and count(session, OrderAddition) == 1
