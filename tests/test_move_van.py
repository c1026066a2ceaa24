"""Staff move an order to another van by hand (issue #10): 「別の車両に移す」 on the order's page takes the
whole door off its van and puts it at the end of the chosen run; both drivers, the shop and the resident
are told; nothing already under way can be moved."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import select, update

from core.clock import JST
from delivery.models import Run, RunStop
from delivery.runner import plan_day
from orders.service import LineItem, place_order
from tests.accounts_support import csrf_of, sign_in
from tests.factories import make_district, make_driver, make_product, make_resident, make_shop, make_vehicle
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
    return client.post(f"/staff/orders/{order_id}/move-van", data={"csrf_token": csrf_of(page), "run_id": str(run_id)},
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
    target = session.scalars(select(Run.id).where(Run.id != source)).one()
    session.rollback()
    _move(client, two_vans["first"], target)
    _move(client, two_vans["first"], source)
    assert _door(session, two_vans["first"]).run_id == source
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
