"""Two orders for the same door are one stop (issue #9): a resident with two orders for one delivery day
(placed separately, by staff, by the simulator) gets one delivery stop on the saved run, one line on the
sheet and the driver's page, one tap that settles both, one cash sum, one ETA notice and one ETA call;
a re-plan that takes one order away keeps the stop for the other and tells nobody about it again."""

from __future__ import annotations

from tests.accounts_support import sign_in
import re
from datetime import date, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select, text

from delivery.door_stops import route_stops
from delivery.models import Plan, Run, RunStop, RunStopOrder
from delivery.problem import Route, Visit
from delivery.problem_builder import BuiltProblem, ServiceTimes
from delivery.runner import plan_day
from delivery.sheets import run_sheet
from orders.changes import cancel_order
from orders.models import Order, OrderStatus
from orders.service import LineItem, place_order
from core.clock import JST
from outbox.models import OutboxMessage
from residents.models import FamilyLink
from tests.factories import (make_district, make_driver, make_product, make_resident, make_shop, make_vehicle,
                             run_link_token)

DAY = date(2026, 12, 1)          # the conftest clock: Tue 08:00 JST, before the central 10:00 cutoff
PLACED = datetime(2026, 12, 1, 8, 0, tzinfo=JST)


@pytest.fixture
def door(app, session):
    """One van; a resident with two orders for the day from two shops (radish from the farm, tofu from
    the grocer), both cash, on LINE with a family member and an ETA call; two neighbours with one each."""
    return _door_day(session, neighbours=2)


def _door_day(session, *, neighbours: int) -> dict:
    district = make_district(session)
    farm = make_shop(session, name="みどり直売所", lat=38.110, lon=140.030)
    grocer = make_shop(session, name="本町商店", lat=38.104, lon=140.046)
    radish = make_product(session, farm, name="大根", stock=50)
    tofu = make_product(session, grocer, name="豆腐", kana="とうふ", unit="丁", stock=50)
    van = make_vehicle(session, shift_start="09:00", shift_end="17:00")
    make_driver(session, van, line_user_id="Udriver")
    resident = make_resident(session, district, lat=38.1085, lon=140.0415, line_user_id="Udoor",
                             wants_eta_call=True)
    session.add(FamilyLink(resident_id=resident.id, line_user_id="Ufamily", name="長女",
                           linked_at=datetime(2026, 11, 1, tzinfo=JST)))
    others = [make_resident(session, district, lat=38.1060 + 0.003 * i, lon=140.0360 + 0.004 * i,
                            line_user_id=f"Uneighbour{i}") for i in range(neighbours)]
    session.commit()
    first = place_order(session, resident_id=resident.id, items=[LineItem(radish.id, 2)], placed_by="test",
                        channel="web", now=PLACED)
    second = place_order(session, resident_id=resident.id, items=[LineItem(tofu.id, 1)], placed_by="staff:test",
                         channel="staff", now=PLACED)
    for neighbour in others:
        place_order(session, resident_id=neighbour.id, items=[LineItem(radish.id, 1)], placed_by="test",
                    channel="web", now=PLACED)
    session.commit()
    ids = {"first": first.id, "second": second.id, "resident": resident.id, "name": resident.name,
           "total": first.total_yen + second.total_yen, "totals": (first.total_yen, second.total_yen)}
    session.rollback()
    return ids


def _door_stops(session, plan_id: int) -> list[RunStop]:
    return [stop for run in session.get(Plan, plan_id).runs for stop in run.stops if stop.kind == "delivery"]


def _plan(app, session) -> int:
    session.rollback()    # the test's own transaction ends first (on SQLite it would hold the write lock)
    outcome = plan_day(app, delivery_date=DAY, actor="staff:test", time_limit_s=1)
    assert outcome.unassigned == 0
    return outcome.plan_id


def _outbox(session, kind: str, recipient: str) -> list[OutboxMessage]:
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind,
                                                            OutboxMessage.recipient == recipient)
                                .order_by(OutboxMessage.id)))


def _text(message: OutboxMessage) -> str:
    return message.payload["messages"][0]["text"] if "messages" in message.payload else message.payload["body"]


def test_the_saved_run_has_one_stop_at_the_door_holding_both_orders(app, session, door) -> None:
    plan_id = _plan(app, session)
    stops = _door_stops(session, plan_id)
    theirs = [s for s in stops if {door["first"], door["second"]} & set(s.order_ids)]
    assert len(theirs) == 1 and theirs[0].order_ids == [door["first"], door["second"]]
    # each neighbour's door is a stop of its own; every order is on exactly one stop
    assert len(stops) == 3 and sorted(i for s in stops for i in s.order_ids) == sorted(
        session.scalars(select(Order.id)).all())
    # one arrival (set-up before the ETA), two bags handed over, the change counted once for both bills
    times = ServiceTimes()
    assert theirs[0].service_s == 2 * times.handover_s + times.cash_s
    rows = session.execute(select(RunStopOrder.order_id, RunStopOrder.position)
                           .where(RunStopOrder.run_stop_id == theirs[0].id).order_by(RunStopOrder.position)).all()
    assert [tuple(r) for r in rows] == [(door["first"], 0), (door["second"], 1)]


def test_sheet_and_driver_page_list_the_resident_once_with_both_orders(app, client, session, door) -> None:
    plan_id = _plan(app, session)
    run_id = session.scalars(select(Run.id).where(Run.plan_id == plan_id)).one()
    sheet = run_sheet(session, run_id)
    (stop,) = [s for s in sheet.stops if s.name == f"{door['name']} 様"]
    assert stop.order_ids == (door["first"], door["second"])
    assert "大根 2本" in stop.items and "豆腐 1丁" in stop.items
    a, b = door["totals"]
    assert stop.collect == f"現金 {door['total']:,}円（{a:,}円＋{b:,}円）"
    assert sheet.cash_total_yen == sum(o.total_yen for o in session.scalars(select(Order)))
    session.rollback()
    sign_in(client)
    printed = client.get(f"/staff/runs/{run_id}/sheet").get_data(as_text=True)
    assert printed.count(door["name"]) == 1 and f"注文番号 {door['first']}・{door['second']}" in printed
    page = client.get(f"/driver/run/{run_link_token(app, run_id)}").get_data(as_text=True)
    assert page.count(door["name"]) == 1
    block = page.split(f'id="stop-{stop.id}"')[1].split('<div class="stop')[0]
    assert "大根 2本" in block and "豆腐 1丁" in block and f"現金 {door['total']:,}円" in block
    assert block.count('name="outcome" value="done"') == 1


@pytest.mark.parametrize("outcome,status", [("done", OrderStatus.DELIVERED), ("not_at_home", OrderStatus.NOT_AT_HOME)])
def test_one_tap_at_the_door_settles_both_orders(app, client, session, door, outcome, status) -> None:
    plan_id = _plan(app, session)
    run_id = session.scalars(select(Run.id).where(Run.plan_id == plan_id)).one()
    (stop_id,) = [s.id for s in _door_stops(session, plan_id) if door["first"] in s.order_ids]
    session.rollback()
    token = run_link_token(app, run_id)
    page = client.get(f"/driver/run/{token}").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    cash = str(door["total"]) if outcome == "done" else ""
    response = client.post(f"/driver/run/{token}/stops/{stop_id}",
                           data={"outcome": outcome, "cash": cash, "csrf_token": csrf}, follow_redirects=True)
    assert "記録しました" in response.get_data(as_text=True)
    session.rollback()
    assert [session.get(Order, i).status for i in (door["first"], door["second"])] == [status, status]
    neighbours = session.scalars(select(Order.status).where(Order.resident_id != door["resident"])).all()
    assert set(neighbours) == {OrderStatus.CONFIRMED}
    stop = session.get(RunStop, stop_id)
    assert stop.status == outcome
    if outcome == "done":
        assert stop.cash_collected_yen == door["total"]
    else:
        # one door, one welfare notice to the family (not one per order); staff see the door once
        welfare = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "welfare_not_at_home")).all()
        assert [m.recipient for m in welfare] == ["Ufamily"]
        session.rollback()
        dashboard = client.get("/staff/?date=2026-12-01")
        if dashboard.status_code == 302:
            sign_in(client)
            dashboard = client.get("/staff/?date=2026-12-01")
        absent = dashboard.get_data(as_text=True).split("見守り（不在）")[1].split("<h2>")[0]
        assert absent.count(door["name"]) == 1 and f"{door['first']}・{door['second']}" in absent


def test_the_resident_gets_one_eta_notice_and_one_call_for_the_door(app, session, door) -> None:
    from voice.eta import queue_eta_calls

    _plan(app, session)
    (notice,) = _outbox(session, "eta", "Udoor")
    body = _text(notice)
    assert body.count("ごろにお届けします") == 1 and f"（注文番号 {door['first']}・{door['second']}）" in body
    (family,) = _outbox(session, "eta", "Ufamily")
    assert _text(family).count("ごろにお届けします") == 1 and _text(family).startswith(f"{door['name']}さんへの")
    driver = _text(_outbox(session, "driver_run", "Udriver")[0])
    (line,) = [row for row in driver.splitlines() if door["name"] in row]
    assert "（注文2件）" in line and f"現金{door['total']:,}円" in line
    assert queue_eta_calls(session, delivery_date=DAY, now=PLACED, config=app.config) == 1
    session.commit()
    calls = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "eta_call")).all()
    assert [m.dedupe_key for m in calls] == [f"eta-call:{door['first']}:{DAY.isoformat()}"]


@pytest.mark.parametrize("how,kind", [("cancel", "order_cancelled"), ("move", "order_moved")])
def test_a_replan_without_one_of_the_orders_keeps_the_stop_and_tells_only_about_that_one(app, session, how,
                                                                                          kind) -> None:
    from delivery.left_out_actions import move_to_next_delivery_day

    # the only door of the day: the van arrives as the window opens, with or without the tofu, so the
    # radish's time stays what the resident was told
    door = _door_day(session, neighbours=0)
    first_plan = _plan(app, session)
    (before,) = [s for s in _door_stops(session, first_plan) if door["first"] in s.order_ids]
    assert before.order_ids == [door["first"], door["second"]]
    # the tofu leaves the day before the cutoff: the resident cancels it, or staff move it to tomorrow
    # (its own message goes out as that happens)
    later = PLACED + timedelta(minutes=30)
    if how == "cancel":
        cancel_order(session, order_id=door["second"], actor="resident", channel="line", now=later)
    else:
        move_to_next_delivery_day(session, order_id=door["second"], actor="staff:test", channel="staff", now=later)
    session.commit()
    told_before = {m.id for m in session.scalars(select(OutboxMessage))}
    plan_id = _plan(app, session)
    session.expire_all()
    (after,) = [s for s in _door_stops(session, plan_id) if {door["first"], door["second"]} & set(s.order_ids)]
    assert after.order_ids == [door["first"]] and after.eta == before.eta
    new = [m for m in session.scalars(select(OutboxMessage)) if m.id not in told_before]
    # the radish's time did not change: no "（更新）" ETA to the resident or the family (compared per
    # order, not by the text, which named the tofu too); the tofu was told once, when it left, and the
    # re-plan does not retract it again
    assert not [m for m in new if m.recipient in ("Udoor", "Ufamily")], [(m.kind, _text(m)) for m in new]
    left = [m for m in session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind))]
    assert sorted(m.recipient for m in left) == ["Udoor", "Ufamily"]          # once each, as it left
    assert all(f"注文番号 {door['second']}" in _text(m) for m in left)
    # the driver hears the door now brings one order
    driver = [_text(m) for m in new if m.kind == "driver_run"]
    assert driver and "（注文2件）" not in driver[0] and door["name"] in driver[0]


def test_a_replan_that_moves_the_door_tells_the_resident_once_with_both_orders(app, session, door) -> None:
    """Negative control for the per-order comparison: an order whose time changed is news."""
    first_plan = _plan(app, session)
    (notice,) = _outbox(session, "eta", "Udoor")
    for order in session.scalars(select(Order).where(Order.resident_id == door["resident"])):
        order.window_start, order.window_end = "15:30", "17:00"     # staff moved the door to late afternoon
    session.commit()
    plan_id = _plan(app, session)
    assert plan_id != first_plan
    updated = [m for m in _outbox(session, "eta", "Udoor") if m.id != notice.id]
    assert len(updated) == 1 and _text(updated[0]).startswith("（更新）")
    assert f"（注文番号 {door['first']}・{door['second']}）" in _text(updated[0])


def _visit(stop_id: str, start: int, service: int, location: int = 1) -> Visit:
    return Visit(stop_id, location, start, start, start + service, (0, 0))


def _built(stop_ids: dict[str, int]) -> BuiltProblem:
    problem = SimpleNamespace(dimensions=("crates", "cold"))
    return BuiltProblem(problem=problem, points=[(38.10, 140.00), (38.11, 140.04)],  # type: ignore[arg-type]
                        stop_order=dict(stop_ids), stop_shop={sid: 1 for sid in stop_ids})


ORIGIN = datetime(2026, 12, 1, 0, 0, tzinfo=JST)
PM = {"window_start": "13:00", "window_end": "17:00"}


def test_door_legs_handed_over_in_one_go_are_one_stop_a_wait_at_the_door_is_not() -> None:
    orders = {1: SimpleNamespace(resident_id=7, **PM), 2: SimpleNamespace(resident_id=7, **PM),
              3: SimpleNamespace(resident_id=7, window_start="15:00", window_end="17:00"),
              4: SimpleNamespace(resident_id=8, **PM)}
    built = _built({"d1-1": 1, "d2-1": 2, "d3-1": 3, "d4-1": 4})
    at = 13 * 3600
    route = Route("v1", (_visit("d1-1", at, 150), _visit("d2-1", at + 150, 60),
                         _visit("d3-1", 15 * 3600, 60),          # waited at the door for the 15:00 window
                         _visit("d4-1", 15 * 3600 + 60, 60)),     # next door's resident, same place
                  at - 600, 16 * 3600, 1000, 600, (0, 0))
    stops, _ = route_stops(route, built, orders, {1, 2, 3, 4}, ORIGIN)  # type: ignore[arg-type]
    assert [list(s.order_ids) for s in stops] == [[1, 2], [3], [4]]
    assert stops[0].eta == ORIGIN + timedelta(seconds=at) and stops[0].service_s == 210
    assert (stops[0].window_start, stops[0].window_end) == ("13:00", "17:00")
    # an order cancelled while the solver ran leaves its leg's time out of the stop, not the stop
    stops, _ = route_stops(route, built, orders, {1, 3, 4}, ORIGIN)  # type: ignore[arg-type]
    assert [list(s.order_ids) for s in stops] == [[1], [3], [4]] and stops[0].service_s == 150


def test_the_migration_keeps_every_order_on_a_stop_both_ways(tmp_path) -> None:
    """0005 turns run_stops.order_id into run_stop_orders rows; its downgrade gives a door stop with two
    orders back as two stops, so neither order loses its stop."""
    import os

    from alembic import command
    from sqlalchemy.orm import Session

    from core import migrate
    from core.db import make_engine
    from core.testdb import throwaway_database
    from contextlib import nullcontext

    server = os.environ.get("TEST_DATABASE_URL")
    with (throwaway_database(server) if server else nullcontext(f"sqlite:///{tmp_path / 'm.db'}")) as url:
        engine = make_engine(url)
        migrate.upgrade(engine)
        with Session(engine) as session:
            district = make_district(session)
            product = make_product(session)
            resident = make_resident(session, district)
            vehicle = make_vehicle(session)
            session.commit()
            ids = [place_order(session, resident_id=resident.id, items=[LineItem(product.id, 1)],
                               placed_by="test", channel="web", now=PLACED).id for _ in range(2)]
            plan = Plan(delivery_date=DAY, version=1, active=True, trigger="t", created_by="t", created_at=PLACED)
            run = Run(vehicle_id=vehicle.id, start_at=PLACED, end_at=PLACED, distance_m=0, duration_s=0)
            run.stops.append(RunStop(seq=1, kind="delivery", order_ids=ids, lat=38.1, lon=140.0, eta=PLACED))
            plan.runs.append(run)
            session.add(plan)
            session.commit()
        cfg = migrate.alembic_config(url)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0004_additions")
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT order_id, seq, kind FROM run_stops ORDER BY order_id")).all()
        assert [tuple(r) for r in rows] == [(ids[0], 1, "delivery"), (ids[1], 1, "delivery")]
        migrate.upgrade(engine)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT order_id, position FROM run_stop_orders ORDER BY order_id")).all()
        assert [tuple(r) for r in rows] == [(ids[0], 0), (ids[1], 0)]
        engine.dispose()
