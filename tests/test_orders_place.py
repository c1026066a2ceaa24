"""place_order and quote_order: the happy path, bad input, idempotency, atomicity and the outbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orders.errors import OrderError
from orders.models import Order, OrderLine, OrderStatus
from orders.service import LineItem, place_order, quote_order
from core.clock import JST
from core.db import db
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
    closed: int     # not available


@pytest.fixture
def world(session: Session) -> World:
    resident = make_resident(session, line_user_id="U-resident")
    session.add(FamilyLink(resident_id=resident.id, line_user_id="U-daughter", name="娘",
                           notify=True, linked_at=CREATED))
    session.add(FamilyLink(resident_id=resident.id, line_user_id="U-quiet", name="息子",
                           notify=False, linked_at=CREATED))
    shop = make_shop(session)
    daikon = make_product(session, shop)
    apple = make_product(session, shop, name="りんご", kana="りんご", category="果物", unit="個",
                         price_yen=120, stock=5)
    bread = make_product(session, make_shop(session, kind="shop"), name="食パン", kana="しょくぱん",
                         category="パン", unit="斤", price_yen=300, stock=None)
    closed = make_product(session, shop, name="柿", kana="かき", available=False)
    session.commit()
    return World(resident.id, daikon.id, apple.id, bread.id, closed.id)


def stocks(session: Session, *ids: int) -> list[int | None]:
    session.expire_all()
    return [session.get(Product, i).stock for i in ids]  # type: ignore[union-attr]


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def place(session: Session, world: World, *items: tuple[int, int], **kwargs: object) -> Order:
    values: dict[object, object] = dict(resident_id=world.resident_id, placed_by="resident:1",
                                        channel="line", now=NOW)
    values.update(kwargs)
    return place_order(session, items=[LineItem(p, q) for p, q in items], **values)  # type: ignore[arg-type]


def test_quote_shows_everything_and_changes_nothing(session: Session, world: World) -> None:
    quote = quote_order(session, resident_id=world.resident_id, now=NOW,
                        items=[LineItem(world.daikon, 2), LineItem(world.bread, 1), LineItem(world.daikon, 1)])
    assert [(line.name, line.quantity, line.line_total_yen) for line in quote.lines] == [
        ("大根", 3, 450), ("食パン", 1, 300)]
    assert (quote.subtotal_yen, quote.fee_yen, quote.total_yen) == (750, 100, 850)
    assert quote.delivery_date == date(2026, 12, 1)
    assert quote.window.code == "pm" and quote.window.label == "午後"
    assert quote.cutoff_at == datetime(2026, 12, 1, 10, 0, tzinfo=JST)
    session.commit()
    assert stocks(session, world.daikon) == [20]
    assert count(session, Order) == 0 and count(session, OutboxMessage) == 0


def test_place_order_reserves_snapshots_audits_and_queues_messages(session: Session, world: World) -> None:
    order = place(session, world, (world.daikon, 2), (world.apple, 1), (world.bread, 1), note=" 玄関へ ")
    session.commit()
    assert order.status is OrderStatus.CONFIRMED
    assert (order.subtotal_yen, order.fee_yen, order.total_yen) == (720, 100, 820)
    assert order.delivery_date == date(2026, 12, 1) and order.window_code == "pm"
    assert order.note == "玄関へ" and order.payment_method == "cash"
    assert stocks(session, world.daikon, world.apple, world.bread) == [18, 4, None]

    # Price snapshot: a later price change does not touch the order.
    session.get(Product, world.daikon).price_yen = 999  # type: ignore[union-attr]
    session.commit()
    line = session.scalars(select(OrderLine).where(OrderLine.product_id == world.daikon)).one()
    assert (line.unit_price_yen, line.line_total_yen) == (150, 300)

    movements = session.scalars(select(StockMovement).order_by(StockMovement.product_id)).all()
    assert [(m.product_id, m.delta, m.reason, m.order_id) for m in movements] == [
        (world.daikon, -2, "order", order.id), (world.apple, -1, "order", order.id)]  # none for bread
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "order.placed")).one()
    assert audit.subject_id == str(order.id) and audit.channel == "line"

    messages = session.scalars(select(OutboxMessage).order_by(OutboxMessage.recipient)).all()
    assert [(m.channel, m.recipient, m.kind) for m in messages] == [
        ("line", "U-daughter", "order_confirmed"), ("line", "U-resident", "order_confirmed")]
    own = next(m for m in messages if m.recipient == "U-resident")
    assert own.dedupe_key == f"order:{order.id}:confirmed:line:U-resident"
    text = own.payload["messages"][0]["text"]
    assert own.payload["messages"][0]["type"] == "text" and len(own.payload["messages"]) == 1
    for fragment in ("ご注文を承りました", "12月1日（火）", "午後（13:00〜17:00）", "大根 2本 300円",
                     "合計 820円", "12月1日（火）10:00 まで"):
        assert fragment in text
    family_text = next(m for m in messages if m.recipient == "U-daughter").payload["messages"][0]["text"]
    assert family_text.startswith("長井 花子") and "さんのご注文を承りました" in family_text


def test_phone_order_without_line_gets_an_sms(session: Session) -> None:
    resident = make_resident(session, mobile_phone="+819012345678")
    product = make_product(session)
    session.commit()
    order = place_order(session, resident_id=resident.id, items=[LineItem(product.id, 1)],
                        placed_by="resident", channel="phone", now=NOW)
    session.commit()
    message = session.scalars(select(OutboxMessage)).one()
    assert (message.channel, message.recipient) == ("sms", "+819012345678")
    assert message.dedupe_key == f"order:{order.id}:confirmed:sms:+819012345678"
    assert "大根1本" in message.payload["body"] and "合計250円" in message.payload["body"]


def test_window_choice(session: Session) -> None:
    outer = make_outer_district(session)
    resident = make_resident(session, outer, preferred_window="pm")
    product = make_product(session)
    session.commit()
    items = [LineItem(product.id, 1)]
    now = datetime(2026, 12, 3, 9, 0, tzinfo=JST)
    assert quote_order(session, resident_id=resident.id, items=items, now=now).window.code == "pm"
    assert quote_order(session, resident_id=resident.id, items=items, now=now, window_code="am").window.code == "am"
    resident.preferred_window = "evening"   # no longer offered → 「時間指定なし」, the whole delivery day
    session.commit()
    quote = quote_order(session, resident_id=resident.id, items=items, now=now)
    assert (quote.window.code, quote.window.start, quote.window.end) == ("any", "09:00", "17:00")
    assert quote.window.label == "時間指定なし" and quote.fee_yen == 200 and quote.delivery_date == date(2026, 12, 4)
    resident.preferred_window = None        # never said: the same, not the morning
    session.commit()
    assert quote_order(session, resident_id=resident.id, items=items, now=now).window.code == "any"
    assert quote_order(session, resident_id=resident.id, items=items, now=now, window_code="any").window.end == "17:00"
    with pytest.raises(OrderError) as caught:
        quote_order(session, resident_id=resident.id, items=items, now=now, window_code="night")
    assert caught.value.code == "unknown_window"


BAD_INPUT = [
    ("unknown product", lambda w: [LineItem(999_999, 1)], "unknown_product"),
    ("quantity 0", lambda w: [LineItem(w.daikon, 0)], "bad_quantity"),
    ("negative", lambda w: [LineItem(w.daikon, -2)], "bad_quantity"),
    ("10,000", lambda w: [LineItem(w.daikon, 10_000)], "bad_quantity"),
    ("100 in two lines", lambda w: [LineItem(w.daikon, 50), LineItem(w.daikon, 50)], "bad_quantity"),
    ("full-width digits", lambda w: [LineItem(w.daikon, "３")], "bad_quantity"),
    ("a float", lambda w: [LineItem(w.daikon, 1.5)], "bad_quantity"),
    ("a bool", lambda w: [LineItem(w.daikon, True)], "bad_quantity"),
    ("a string id", lambda w: [LineItem(str(w.daikon), 1)], "unknown_product"),
    ("empty basket", lambda w: [], "empty_basket"),
    ("unavailable", lambda w: [LineItem(w.closed, 1)], "product_unavailable"),
    ("more than in stock", lambda w: [LineItem(w.daikon, 1), LineItem(w.apple, 6)], "sold_out"),
]


@pytest.mark.parametrize("label, make_items, code", BAD_INPUT, ids=[case[0] for case in BAD_INPUT])
def test_bad_input_is_a_clear_error_and_changes_nothing(session: Session, world: World, label: str,
                                                        make_items, code: str) -> None:  # type: ignore[no-untyped-def]
    for call in (quote_order, place_order):
        extra = {} if call is quote_order else {"placed_by": "resident:1", "channel": "line"}
        with pytest.raises(OrderError) as caught:
            call(session, resident_id=world.resident_id, items=make_items(world), now=NOW, **extra)
        assert caught.value.code == code
        assert caught.value.message  # a Japanese sentence for the resident
    session.commit()
    assert stocks(session, world.daikon, world.apple) == [20, 5]
    assert count(session, Order) == 0 and count(session, OutboxMessage) == 0
    assert count(session, StockMovement) == 0


def test_too_many_lines(session: Session, world: World) -> None:
    shop = make_shop(session)
    ids = [make_product(session, shop, name=f"品{i}").id for i in range(31)]
    with pytest.raises(OrderError) as caught:
        place_order(session, resident_id=world.resident_id, items=[LineItem(i, 1) for i in ids],
                    placed_by="x", channel="line", now=NOW)
    assert caught.value.code == "too_many_lines"


def test_sold_out_message_names_the_product(session: Session, world: World) -> None:
    with pytest.raises(OrderError) as caught:
        place(session, world, (world.apple, 6))
    assert caught.value.code == "sold_out"
    assert "売り切れ" in caught.value.message and "りんご" in caught.value.message
    assert caught.value.details["product_id"] == world.apple


def test_unknown_and_inactive_residents(session: Session, world: World) -> None:
    with pytest.raises(OrderError) as caught:
        place_order(session, resident_id=424242, items=[LineItem(world.daikon, 1)], placed_by="x",
                    channel="line", now=NOW)
    assert caught.value.code == "unknown_resident"
    inactive = make_resident(session, active=False)
    session.commit()
    with pytest.raises(OrderError) as caught:
        place_order(session, resident_id=inactive.id, items=[LineItem(world.daikon, 1)], placed_by="x",
                    channel="line", now=NOW)
    assert caught.value.code == "inactive_resident"


def test_multi_line_order_with_one_sold_out_line_decrements_nothing(session: Session, world: World) -> None:
    # The sold-out line is checked by the guarded update (the pre-read is made stale on purpose), and
    # the caller goes on to commit its own transaction after catching the error, as a channel does.
    apple = session.get(Product, world.apple)  # held, so it stays in the (weak) identity map
    assert apple is not None and apple.stock == 5
    session.commit()  # not expired on commit: the pre-check below still sees 5
    with db.bound().sessions() as other, other.begin():
        other.get(Product, world.apple).stock = 0  # type: ignore[union-attr]
    with pytest.raises(OrderError) as caught:
        place(session, world, (world.daikon, 1), (world.bread, 1), (world.apple, 1))
    assert caught.value.code == "sold_out" and caught.value.details["product_id"] == world.apple
    assert apple.stock == 0  # refreshed by the failed guarded update's re-read
    session.commit()
    assert stocks(session, world.daikon, world.apple) == [20, 0]
    assert count(session, Order) == 0 and count(session, OutboxMessage) == 0
    assert count(session, StockMovement) == 0 and count(session, AuditEntry) == 0


def test_after_a_failed_order_the_same_session_places_the_next_one_cleanly(session: Session,
                                                                          world: World) -> None:
    # reorder_usual and the simulator retry in one session. The failed attempt's rows are rolled back
    # with its savepoint; on SQLite the next order may get the same id, so no object of the failed
    # attempt may stay in the session and be handed back for it.
    apple = session.get(Product, world.apple)  # a stale read: the pre-check passes, the update fails
    session.commit()
    with db.bound().sessions() as other, other.begin():
        other.get(Product, world.apple).stock = 0  # type: ignore[union-attr]
    with pytest.raises(OrderError) as caught:
        place(session, world, (world.daikon, 1), (world.apple, 1))
    assert apple is not None
    # ``caught`` keeps the traceback, and with it anything the failed call still referenced, alive.
    order = place(session, world, (world.bread, 2))
    session.commit()
    assert caught.value.code == "sold_out"
    assert [(line.product_id, line.quantity) for line in order.lines] == [(world.bread, 2)]
    session.expire_all()
    reread = session.get(Order, order.id)
    assert reread is order and [(line.product_id, line.quantity) for line in reread.lines] == [(world.bread, 2)]
    assert count(session, Order) == 1 and count(session, OrderLine) == 1
    assert stocks(session, world.daikon, world.apple) == [20, 0]


def test_same_idempotency_key_returns_the_first_order(session: Session, world: World) -> None:
    first = place(session, world, (world.daikon, 2), idempotency_key="line:evt-1")
    session.commit()
    again = place(session, world, (world.daikon, 5), idempotency_key="line:evt-1")
    session.commit()
    assert again.id == first.id and [line.quantity for line in again.lines] == [2]
    assert stocks(session, world.daikon) == [18]
    assert count(session, Order) == 1 and count(session, OutboxMessage) == 2


def test_idempotency_key_of_another_resident_is_refused(session: Session, world: World) -> None:
    place(session, world, (world.daikon, 1), idempotency_key="k-1")
    session.commit()
    stranger = make_resident(session)
    session.commit()
    with pytest.raises(OrderError) as caught:
        place_order(session, resident_id=stranger.id, items=[LineItem(world.daikon, 1)], placed_by="x",
                    channel="line", now=NOW, idempotency_key="k-1")
    assert caught.value.code == "not_your_order"


def test_rolled_back_order_leaves_no_message_and_committed_one_has_both(app, world: World) -> None:  # type: ignore[no-untyped-def]
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with db.transaction(app) as session:
            place(session, world, (world.daikon, 1))
            raise Boom  # e.g. the channel's own write fails after the order
    with db.reading(app) as session:
        assert count(session, Order) == 0 and count(session, OutboxMessage) == 0
        assert session.get(Product, world.daikon).stock == 20  # type: ignore[union-attr]

    with db.transaction(app) as session:
        order_id = place(session, world, (world.daikon, 1)).id
    with db.reading(app) as session:
        assert count(session, Order) == 1
        keys = set(session.scalars(select(OutboxMessage.dedupe_key)))
        assert keys == {f"order:{order_id}:confirmed:line:U-resident",
                        f"order:{order_id}:confirmed:line:U-daughter"}
