"""Staff move an order to another van by hand (issue #10): 「別の車両に移す」 on the order's page takes the
whole door off its van and puts it at the end of the chosen run; both drivers, the shop and the resident
are told; nothing already under way can be moved."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import select, update

from core.clock import JST
from core.models import AuditEntry
from delivery.models import Plan, Run, RunStop, StopPin
from delivery.runner import plan_day
from orders.models import Order
from orders.service import LineItem, place_order
from tests.accounts_support import csrf_of, sign_in
from tests.factories import (make_district, make_driver, make_product, make_resident, make_shop, make_vehicle,
                             run_link_token)
from tests.test_leftovers import _rows

DAY = date(2026, 12, 1)             # Tue; the conftest clock is 08:00 JST, before the 10:00 cutoff
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=JST)


@pytest.fixture
def two_vans(app, client, session):  # type: ignore[no-untyped-def]
    """Two vans with an hour's shift each, 20 km apart, each with a farm and a house next to its depot, so
    each van takes its own house. The first house has two orders (one door)."""
    district = make_district(session)
    radishes, people = [], []
    for n, lon in ((1, 140.00), (2, 140.25)):
        van = make_vehicle(session, name=f"軽バン{n}号", depot_lat=38.10, depot_lon=lon,
                           shift_start="13:00", shift_end="14:00")
        make_driver(session, van, line_user_id=f"Udriver{n}")
        farm = make_shop(session, name=f"直売所{n}", lat=38.101, lon=lon + 0.002)
        radishes.append(make_product(session, farm, name="大根", stock=100).id)
        people.append(make_resident(session, district, lat=38.102, lon=lon - 0.002, line_user_id=f"Uhouse{n - 1}"))
    session.commit()
    first = place_order(session, resident_id=people[0].id, items=[LineItem(radishes[0], 5)], placed_by="test",
                        channel="line", now=NOW).id
    second = place_order(session, resident_id=people[1].id, items=[LineItem(radishes[1], 5)], placed_by="test",
                         channel="line", now=NOW).id
    extra = place_order(session, resident_id=people[0].id, items=[LineItem(radishes[0], 1)], placed_by="test",
                        channel="phone", now=NOW).id
    session.commit()
    result = plan_day(app, delivery_date=DAY, actor="staff:test", time_limit_s=1)
    assert result.unassigned == 0
    sign_in(client)
    return {"first": first, "second": second, "extra": extra}


def _door(session, order_id: int) -> RunStop:
    return next(s for s in session.scalars(select(RunStop).where(RunStop.kind == "delivery"))
                if order_id in s.order_ids)


def _route(session, run_id: int) -> list[tuple[int, str, list[int], datetime]]:
    stops = session.scalars(select(RunStop).where(RunStop.run_id == run_id).order_by(RunStop.seq)).all()
    return [(s.seq, s.kind, list(s.order_ids) if s.kind == "delivery" else list(s.picks), s.eta) for s in stops]


def _move(client, order_id: int, run_id: int):  # type: ignore[no-untyped-def]
    page = client.get(f"/staff/orders/{order_id}").get_data(as_text=True)
    return client.post(f"/staff/orders/{order_id}/move-van", data={"csrf_token": csrf_of(page), "to": f"run:{run_id}"},
                       follow_redirects=True)


def test_the_door_moves_whole_and_everyone_concerned_is_told(client, session, two_vans) -> None:
    door = _door(session, two_vans["first"])
    assert sorted(door.order_ids) == sorted([two_vans["first"], two_vans["extra"]])   # one door, two orders
    source = door.run_id
    target = session.scalars(select(Run.id).where(Run.id != source)).one()
    stay = _route(session, target)
    session.rollback()

    page = client.get(f"/staff/orders/{two_vans['first']}").get_data(as_text=True)
    assert "別の車両に移す" in page and "軽バン" in page
    done = _move(client, two_vans["first"], target).get_data(as_text=True)
    assert "の最後に移しました" in done and f"{min(two_vans['first'], two_vans['extra'])}・" in done

    moved = _door(session, two_vans["extra"])
    assert moved.run_id == target and sorted(moved.order_ids) == sorted([two_vans["first"], two_vans["extra"]])
    after = _route(session, target)
    assert after[:len(stay)] == stay                                    # the target's own stops keep their times
    assert [s[0] for s in after] == list(range(1, len(after) + 1))
    assert after[-1][1] == "delivery" and after[-2][1] == "pickup" and after[-2][2] == sorted(moved.order_ids)
    left = _route(session, source)
    assert [s[0] for s in left] == list(range(1, len(left) + 1))
    assert all(two_vans["first"] not in s[2] and two_vans["extra"] not in s[2] for s in left)
    session.rollback()

    drivers = {m.recipient: m.text for m in _rows(session, "driver_run") if ":move:" in m.key}
    assert set(drivers) == {"Udriver1", "Udriver2"} and all(t.startswith("（更新）") for t in drivers.values())
    etas = {m.recipient for m in _rows(session, "eta") if ":move:" in m.key}
    assert etas == {"Uhouse0"}                                           # the other house's time did not change


def test_moved_there_and_back_tells_the_drivers_both_times(client, session, two_vans) -> None:
    source = _door(session, two_vans["first"]).run_id
    source_van = session.get(Run, source).vehicle_id
    target = session.scalars(select(Run.id).where(Run.id != source)).one()
    session.rollback()
    _move(client, two_vans["first"], target)
    # that door was its van's only stop: the run is gone, the van is idle, and choosing it makes a new run
    assert session.get(Run, source) is None
    session.rollback()
    _move_to(client, two_vans["first"], f"vehicle:{source_van}")
    assert _door(session, two_vans["first"]).run.vehicle_id == source_van
    session.rollback()
    assert len([m for m in _rows(session, "driver_run") if ":move:" in m.key]) == 4


def test_goods_already_collected_stay_on_their_van(client, session, two_vans) -> None:
    door = _door(session, two_vans["second"])
    source, target = door.run_id, session.scalars(select(Run.id).where(Run.id != door.run_id)).one()
    session.execute(update(RunStop).where(RunStop.run_id == source, RunStop.kind == "pickup").values(status="done"))
    session.commit()
    before = _route(session, source), _route(session, target)
    session.rollback()
    page = _move(client, two_vans["second"], target).get_data(as_text=True)
    assert "積み込みや配達が始まっているため" in page
    assert (_route(session, source), _route(session, target)) == before
    session.rollback()
    assert [m for m in _rows(session, "driver_run") if ":move:" in m.key] == []


def test_a_visited_door_stays_and_the_same_van_is_refused(client, session, two_vans) -> None:
    door = _door(session, two_vans["second"])
    source, target = door.run_id, session.scalars(select(Run.id).where(Run.id != door.run_id)).one()
    door_id = door.id
    session.rollback()                  # an open read on SQLite would block the page's write
    assert "この注文はすでにこの便に入っています" in _move(client, two_vans["second"], source).get_data(as_text=True)
    session.execute(update(RunStop).where(RunStop.id == door_id).values(status="not_at_home"))
    session.commit()
    page = _move(client, two_vans["second"], target).get_data(as_text=True)
    assert "積み込みや配達が始まっているため" in page and _door(session, two_vans["second"]).run_id == source
    session.rollback()


@pytest.fixture
def one_run(app, client, session):  # type: ignore[no-untyped-def]
    """A day planned with one van; then a second van (with its driver) joins the fleet, idle in that
    plan, and a third van is out of service."""
    district = make_district(session)
    van = make_vehicle(session, name="軽バン1号", depot_lat=38.10, depot_lon=140.00, shift_start="13:00",
                       shift_end="15:00")
    make_driver(session, van, line_user_id="Udriver1")
    farm = make_shop(session, name="直売所1", lat=38.101, lon=140.002)
    radish = make_product(session, farm, name="大根", stock=100).id
    house = make_resident(session, district, lat=38.102, lon=139.998, line_user_id="Uhouse0")
    session.commit()
    order_id = place_order(session, resident_id=house.id, items=[LineItem(radish, 3)], placed_by="test",
                           channel="line", now=NOW).id
    session.commit()
    assert plan_day(app, delivery_date=DAY, actor="staff:test", time_limit_s=1).unassigned == 0
    idle = make_vehicle(session, name="軽バン3号", depot_lat=38.10, depot_lon=140.01, shift_start="13:30",
                        shift_end="16:00")
    make_driver(session, idle, line_user_id="Udriver3")
    off = make_vehicle(session, name="軽バン4号", active=False)
    session.commit()
    sign_in(client)
    return {"order": order_id, "idle": idle.id, "off": off.id, "van": van.id}


def _move_to(client, order_id: int, value: str):  # type: ignore[no-untyped-def]
    page = client.get(f"/staff/orders/{order_id}").get_data(as_text=True)
    return client.post(f"/staff/orders/{order_id}/move-van", data={"csrf_token": csrf_of(page), "to": value},
                       follow_redirects=True)


def test_a_door_moves_to_a_van_the_plan_left_idle(client, session, one_run) -> None:
    """A day the solver did with one van: the idle van is offered, and choosing it makes its run."""
    assert session.scalars(select(Run.vehicle_id)).all() == [one_run["van"]]
    session.rollback()
    page = client.get(f"/staff/orders/{one_run['order']}").get_data(as_text=True)
    assert f'<option value="vehicle:{one_run["idle"]}">軽バン3号（空き）</option>' in page
    assert f"vehicle:{one_run['off']}" not in page and "軽バン4号" not in page

    done = _move_to(client, one_run["order"], f"vehicle:{one_run['idle']}").get_data(as_text=True)
    assert "軽バン1号から軽バン3号の最後に移しました" in done
    assert "軽バン1号の便は配達先がなくなったので取り消しました" in done     # its only door left it
    runs = session.scalars(select(Run).order_by(Run.id)).all()
    assert [r.vehicle_id for r in runs] == [one_run["idle"]]
    new = runs[0]
    assert new.driver is not None and new.driver.line_user_id == "Udriver3"
    assert new.start_at.astimezone(JST).strftime("%H:%M") == "13:30"         # its shift start, from its depot
    assert [(s.kind, list(s.order_ids) or list(s.picks)) for s in new.stops] == [
        ("pickup", [one_run["order"]]), ("delivery", [one_run["order"]])]
    assert _door(session, one_run["order"]).run_id == new.id
    assert session.scalars(select(StopPin.vehicle_id)).all() == [one_run["idle"]]
    session.rollback()
    told = {m.recipient: m.text for m in _rows(session, "driver_run") if ":move:" in m.key}
    assert set(told) == {"Udriver1", "Udriver3"}
    assert not told["Udriver3"].startswith("（更新）") and "軽バン3号" in told["Udriver3"]   # a new run for him
    assert "便はなくなりました" in told["Udriver1"]                       # and van 1's driver stays home
    # van 3 is offered as its run now; van 1, emptied, as idle again
    page = client.get(f"/staff/orders/{one_run['order']}").get_data(as_text=True)
    assert f'<option value="vehicle:{one_run["van"]}">軽バン1号（空き）</option>' in page
    assert "軽バン3号（空き）" not in page


def test_an_out_of_service_or_unknown_van_and_a_bad_value_are_refused(client, session, one_run) -> None:
    before = session.scalars(select(Run.id)).all(), _door(session, one_run["order"]).run_id
    session.rollback()
    page = _move_to(client, one_run["order"], f"vehicle:{one_run['off']}")
    assert page.status_code == 200 and "その車両は今は使えません" in page.get_data(as_text=True)
    page = _move_to(client, one_run["order"], "vehicle:999999")
    assert page.status_code == 200 and "その車両は今は使えません" in page.get_data(as_text=True)
    page = _move_to(client, one_run["order"], f"vehicle:{one_run['van']}")     # it has its run already
    assert page.status_code == 200 and "その車両にはもう便があります" in page.get_data(as_text=True)
    for bad in (str(one_run["idle"]), "truck:1", "vehicle:", "vehicle:-1", "vehicle:99999999999999", ""):
        page = _move_to(client, one_run["order"], bad)
        assert page.status_code == 200 and "移す先の車両を選んでください" in page.get_data(as_text=True)
    assert (session.scalars(select(Run.id)).all(), _door(session, one_run["order"]).run_id) == before
    session.rollback()
    assert [m for m in _rows(session, "driver_run") if ":move:" in m.key] == []


def test_a_left_out_order_is_assigned_to_an_idle_van(client, session, one_run) -> None:
    """The dashboard's 「この便の最後に追加」 offers the idle van too; the order arrives after the plan."""
    first = session.get(Order, one_run["order"])
    late = place_order(session, resident_id=first.resident_id, items=[LineItem(first.lines[0].product_id, 1)],
                       placed_by="test", channel="phone", now=NOW).id
    plan_id = session.scalars(select(Plan.id).where(Plan.active.is_(True))).one()
    session.commit()
    page = client.get(f"/staff/?date={DAY.isoformat()}").get_data(as_text=True)
    assert f'<option value="vehicle:{one_run["idle"]}">軽バン3号（空き）</option>' in page
    client.post(f"/staff/orders/{late}/assign?date={DAY.isoformat()}",
                data={"csrf_token": csrf_of(page), "to": f"vehicle:{one_run['idle']}"})
    door = _door(session, late)
    assert door.run.vehicle_id == one_run["idle"] and door.run.plan_id == plan_id
    session.rollback()
    assert {m.recipient for m in _rows(session, "driver_run") if f"plan:{plan_id}:hand:{late}:" in m.key} == {
        "Udriver3"}


def _link_page(app, client, run_id: int, token: str | None = None) -> str:  # type: ignore[no-untyped-def]
    page = client.get(f"/driver/run/{token or run_link_token(app, run_id)}")
    assert page.status_code == 200
    return page.get_data(as_text=True)


def test_a_run_emptied_by_a_move_is_removed_and_its_link_says_so(app, client, session, two_vans) -> None:
    """Van 2's only door moves to van 1: van 2's run goes (audited), van 2 is offered as idle again, its
    driver's old link says the run is gone in words; once van 2 gets a run again, that old link points
    to it and never opens it itself, on both databases: SQLite gives the new run the old id (no
    AUTOINCREMENT), and only the link's key tells the two runs apart."""
    old = _door(session, two_vans["second"]).run
    old_run, van2, van1_run = old.id, old.vehicle_id, session.scalars(select(Run.id).where(Run.id != old.id)).one()
    session.rollback()
    old_link = run_link_token(app, old_run)          # the driver's link, made while the run was there
    assert "配達完了" in _link_page(app, client, old_run, old_link)

    done = _move(client, two_vans["second"], van1_run).get_data(as_text=True)
    assert "軽バン2号の便は配達先がなくなったので取り消しました" in done
    assert session.get(Run, old_run) is None
    assert session.scalars(select(AuditEntry.data).where(AuditEntry.action == "plan.run_removed",
                                                         AuditEntry.subject_id == str(old_run))).one()[
        "reason"] == "no_stop_left"
    session.rollback()
    page = client.get(f"/staff/orders/{two_vans['second']}").get_data(as_text=True)
    assert f'<option value="vehicle:{van2}">軽バン2号（空き）</option>' in page
    told = [m.text for m in _rows(session, "driver_run") if m.recipient == "Udriver2" and ":move:" in m.key]
    assert len(told) == 1 and "便はなくなりました" in told[0]

    gone = _link_page(app, client, old_run, old_link)
    assert "この便はなくなりました" in gone and "この日、あなたのルートはありません" in gone
    assert "配達完了" not in gone

    _move_to(client, two_vans["second"], f"vehicle:{van2}")
    new_run = _door(session, two_vans["second"]).run_id
    session.rollback()
    assert "配達完了" in _link_page(app, client, new_run)
    # On SQLite new_run == old_run here; on PostgreSQL the sequence gives a new id. Either way the old
    # link says its run is gone and leads to the new one, never opening it itself.
    gone = _link_page(app, client, old_run, old_link)
    assert "この便はなくなりました" in gone and "いまのあなたのルートを開く" in gone and "配達完了" not in gone


def test_a_run_with_stops_left_stays(client, session, two_vans) -> None:
    """The negative case: a van that keeps a door keeps its run."""
    door = _door(session, two_vans["second"])
    van2_run = door.run_id
    van1 = session.scalars(select(Run.vehicle_id).where(Run.id != van2_run)).one()
    session.rollback()
    _move(client, two_vans["first"], van2_run)              # van 2: both houses; van 1's run goes
    done = _move_to(client, two_vans["second"], f"vehicle:{van1}").get_data(as_text=True)
    assert "の最後に移しました" in done and "取り消しました" not in done
    assert session.get(Run, van2_run) is not None            # still has the first house's door
    assert len(session.scalars(select(AuditEntry).where(AuditEntry.action == "plan.run_removed")).all()) == 1
    session.rollback()
