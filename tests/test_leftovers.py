"""When not everything fits (issue #9): residents left out of a plan are told, a re-plan retracts every
ETA it makes stale, and staff move, hand-assign or cancel left-out orders from their page."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

import pytest
from sqlalchemy import select

from delivery.distances import StraightLine
from delivery.leftovers import queue_leftover_notices
from delivery.models import Plan, Run, RunStop, RunStopOrder
from delivery.notices import queue_plan_messages
from delivery.planning import prepare_day, store_plan
from delivery.routing import solve
from delivery.runner import plan_day
from delivery.left_out_actions import move_to_next_delivery_day
from orders.models import Order, OrderStatus
from orders.service import LineItem, cancel_order, place_order
from core.clock import JST
from core.db import db
from outbox.models import OutboxMessage
from residents.models import FamilyLink, Resident
from tests.factories import make_district, make_driver, make_product, make_resident, make_shop, make_vehicle
from tests.test_planning import town  # noqa: F401  (fixture)

DAY = date(2026, 12, 1)             # Tue; the conftest clock is 08:00 JST, before the 10:00 cutoff
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=JST)
LEFT = "12月1日（火）のお届けの便に入りきりませんでした"


@pytest.fixture
def small_van(app, session):
    """One small van (1 crate) and four orders: two of one radish fit, two of nine (2 crates) cannot.
    Left out: a LINE resident with a family member on LINE, and a landline-only phone customer."""
    district = make_district(session)
    farm = make_shop(session, name="みどり直売所", lat=38.110, lon=140.030)
    radish = make_product(session, farm, name="大根", stock=100)
    van = make_vehicle(session, name="軽バン1号", capacity_crates=1, capacity_cold=1)
    make_driver(session, van, line_user_id="Udriver")
    people = [make_resident(session, district, lat=38.1075 + 0.003 * i, lon=140.0405 - 0.002 * i,
                            line_user_id=f"Usmall{i}" if i != 2 else None) for i in range(4)]
    session.add(FamilyLink(resident_id=people[1].id, line_user_id="Ufamily1", name="長女",
                           linked_at=datetime(2026, 11, 1, tzinfo=JST)))
    session.commit()
    orders = [place_order(session, resident_id=p.id, items=[LineItem(radish.id, 9 if i in (1, 2) else 1)],
                          placed_by="test", channel="phone" if i == 2 else "line", now=NOW).id
              for i, p in enumerate(people)]
    session.commit()
    return {"orders": orders, "big": orders[1:3], "radish": radish.id, "phone": people[2].phone,
            "names": [p.name for p in people]}


@dataclass(frozen=True)
class Sent:
    channel: str
    recipient: str
    text: str
    key: str


def _rows(session, kind: str, *, plan_id: int | None = None) -> list[Sent]:
    """Outbox rows as plain values; the read ends at once (on SQLite an open read blocks the app's writes)."""
    query = select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.created_at,
                                                                              OutboxMessage.recipient)
    if plan_id is not None:
        query = query.where(OutboxMessage.dedupe_key.like(f"plan:{plan_id}:%"))
    rows = [Sent(m.channel, m.recipient, _text(m.payload), m.dedupe_key or "") for m in session.scalars(query)]
    session.rollback()
    return rows


def _text(payload: dict) -> str:
    """What the recipient reads or hears: a call's words as the phone line's sender would play them."""
    if "messages" in payload:
        return payload["messages"][0]["text"]
    if "body" in payload:
        return payload["body"]
    from voice.sender import TwilioVoiceSender
    from voice.twilio_client import TwilioSettings
    twiml = TwilioVoiceSender(TwilioSettings("ACtest", "token", "+815011112222")).twiml_for(payload)
    assert twiml is not None, payload
    return twiml


def _eta_recipients(session, plan_id: int) -> set[str]:
    return {m.recipient for m in _rows(session, "eta", plan_id=plan_id)}


def _on_runs(session, plan_id: int) -> set[int]:
    found = set(session.scalars(select(RunStopOrder.order_id).join(RunStop).join(Run).where(
        Run.plan_id == plan_id, RunStop.kind == "delivery")))
    session.rollback()
    return found


def _plan(app, session):  # type: ignore[no-untyped-def]
    session.rollback()
    return plan_day(app, delivery_date=DAY, actor="staff:test", time_limit_s=1)


def test_left_out_residents_are_told_once_on_their_own_channel(app, session, small_van) -> None:
    first = _plan(app, session)
    assert first.unassigned == 2
    told = _rows(session, "order_left_out")
    assert sorted((m.channel, m.recipient) for m in told) == sorted(
        [("line", "Usmall1"), ("line", "Ufamily1"), ("voice", small_van["phone"])])
    by = {m.recipient: m.text for m in told}
    assert LEFT in by["Usmall1"] and "担当者からお電話します（0238-00-0000）" in by["Usmall1"]
    assert f"{small_van['names'][1]}さんのご注文" in by["Ufamily1"]    # whose order, for the family
    assert "入りきりませんでした" in by[small_van["phone"]] and "<Hangup" in by[small_van["phone"]]
    # The residents who fit get their ETA and nothing else.
    assert _eta_recipients(session, first.plan_id) == {"Usmall0", "Usmall3"}
    again = _plan(app, session)
    assert again.created and again.unassigned == 2
    assert len(_rows(session, "order_left_out")) == 3          # an identical re-plan tells nobody again
    with db.transaction(app) as s:                              # and says so: nothing was queued
        plan, previous = s.get(Plan, again.plan_id), s.get(Plan, first.plan_id)
        assert queue_leftover_notices(s, plan, previous, now=NOW, config=app.config) == 0


def _unfit(session, order_id: int, fit: bool = False) -> None:
    order = session.get(Order, order_id)
    order.window_start, order.window_end = ("13:00", "17:00") if fit else ("06:00", "06:30")
    session.commit()


def test_replan_that_drops_an_order_with_an_eta_retracts_it(app, session, town) -> None:  # noqa: F811
    dropped = town["orders"][1]
    resident = session.get(Order, dropped).resident.line_user_id
    first = _plan(app, session)
    assert resident in _eta_recipients(session, first.plan_id)
    _unfit(session, dropped)                                  # no van can reach it in time any more
    second = _plan(app, session)
    assert second.unassigned == 1 and dropped not in _on_runs(session, second.plan_id)
    (retraction,) = _rows(session, "order_left_out")
    assert retraction.recipient == resident and LEFT in retraction.text
    _plan(app, session)   # the same again
    assert len(_rows(session, "order_left_out")) == 1
    # Back on a run (a new ETA), then dropped again: a new situation, told again.
    _unfit(session, dropped, fit=True)
    back = _plan(app, session)
    assert resident in _eta_recipients(session, back.plan_id)
    _unfit(session, dropped)
    _plan(app, session)
    assert [m.recipient for m in _rows(session, "order_left_out")] == [resident, resident]


def _plan_around(app, between: Callable[[], None]) -> int:
    """plan_day's steps with ``between`` run while the solver would be thinking."""
    with db.reading(app) as s:
        day = prepare_day(s, delivery_date=DAY, trigger=f"test:{id(between)}", now=NOW,
                          matrix=StraightLine().matrix)
    between()
    assert day.built is not None
    result = solve(day.built.problem, time_limit_s=1)
    with db.transaction(app) as s:
        plan = store_plan(s, day, result, now=NOW, actor="staff:test")
        previous = s.get(Plan, day.previous_plan_id) if day.previous_plan_id else None
        queue_plan_messages(s, plan, previous, now=NOW, driver_link=lambda run: "link", config=app.config)
        return plan.id


def test_order_cancelled_during_planning_has_its_eta_withdrawn_once(app, session, town) -> None:  # noqa: F811
    order_id = town["orders"][2]
    resident = session.get(Order, order_id).resident.line_user_id
    first = _plan(app, session)
    assert resident in _eta_recipients(session, first.plan_id)
    session.rollback()

    def cancel() -> None:
        with db.transaction(app) as s:
            cancel_order(s, order_id=order_id, actor="resident", channel="line", now=NOW)

    plan_id = _plan_around(app, cancel)
    assert order_id not in _on_runs(session, plan_id) and resident not in _eta_recipients(session, plan_id)
    (cancelled,) = _rows(session, "order_cancelled")          # the cancel's message, not a second one
    assert cancelled.recipient == resident


def test_order_cancelled_without_a_message_is_told_at_the_replan(app, session, town) -> None:  # noqa: F811
    order_id = town["orders"][2]
    _plan(app, session)
    order = session.get(Order, order_id)
    order.status = OrderStatus.CANCELLED                      # e.g. fixed by hand in the database
    resident = order.resident.line_user_id
    session.commit()
    _plan(app, session)
    (told,) = _rows(session, "order_cancelled")
    assert told.recipient == resident and "12月1日（火）のお届けはありません" in told.text


def test_order_moved_by_staff_is_told_once_and_drops_off_the_old_day(app, session, town) -> None:  # noqa: F811
    from voice.eta import queue_eta_calls

    order_id = town["orders"][3]
    order = session.get(Order, order_id)
    session.get(Resident, order.resident_id).wants_eta_call = True
    resident = order.resident.line_user_id
    session.commit()
    _plan(app, session)
    with db.transaction(app) as s:
        moved = move_to_next_delivery_day(s, order_id=order_id, actor="staff:test", channel="staff", now=NOW)
        assert moved.delivery_date == date(2026, 12, 2)
        # the old day's plan still lists it until re-made, but nobody phones an ETA for it
        assert queue_eta_calls(s, delivery_date=DAY, now=NOW, config=app.config) == 0
    (told,) = _rows(session, "order_moved")
    assert told.recipient == resident and "12月2日（水）" in told.text and "変更しました" in told.text
    second = _plan(app, session)
    assert order_id not in _on_runs(session, second.plan_id) and resident not in _eta_recipients(session, second.plan_id)
    assert len(_rows(session, "order_moved")) == 1             # the re-plan does not say it twice


def test_order_moved_another_way_is_told_at_the_replan(app, session, town) -> None:  # noqa: F811
    order_id = town["orders"][0]
    _plan(app, session)
    order = session.get(Order, order_id)
    order.delivery_date = date(2026, 12, 3)
    resident = order.resident.line_user_id
    session.commit()
    _plan(app, session)
    (told,) = _rows(session, "order_moved")
    assert told.recipient == resident and "12月3日（木）" in told.text


def test_replan_that_moves_a_stop_sends_the_corrected_eta(app, session, town) -> None:  # noqa: F811
    order_id = town["orders"][0]
    resident = session.get(Order, order_id).resident.line_user_id
    first = _plan(app, session)
    (before,) = [m.text for m in _rows(session, "eta", plan_id=first.plan_id) if m.recipient == resident]
    order = session.get(Order, order_id)
    order.window_start, order.window_end = "16:00", "17:00"     # the resident asked for later
    session.commit()
    second = _plan(app, session)
    (after,) = [m.text for m in _rows(session, "eta", plan_id=second.plan_id) if m.recipient == resident]
    assert after.startswith("（更新）") and after != "（更新）" + before and "16:" in after
    assert _rows(session, "eta_retracted") == [] and _rows(session, "order_left_out") == []


def test_an_eta_for_an_order_taken_off_the_day_any_other_way_is_withdrawn(app, session, town) -> None:  # noqa: F811
    order_id = town["orders"][1]
    _plan(app, session)
    order = session.get(Order, order_id)
    order.status = OrderStatus.RECEIVED                       # back to staff to be checked: not planned
    resident = order.resident.line_user_id
    session.commit()
    _plan(app, session)
    (told,) = _rows(session, "eta_retracted")
    assert told.recipient == resident and "お届け予定は取りやめになりました" in told.text
    _plan(app, session)
    assert len(_rows(session, "eta_retracted")) == 1
