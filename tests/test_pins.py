"""A door a coordinator put on a van by hand stays on that van when the day is re-planned (issue #10):
「別の車両に移す」 or 「この便の最後に追加」 pins it (delivery/pins.py), the routing problem allows only that
van for its stops, 「固定を外す」 lets the next plan choose again, and a pinned van taken out of service
leaves the door unassigned with a reason staff can read, never dropped silently."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import select, update

from core.clock import JST
from delivery.models import Plan, Run, RunStop, StopPin, UnassignedOrder, Vehicle
from places.models import District
from delivery.runner import plan_day
from orders.service import LineItem, place_order
from tests.accounts_support import csrf_of, sign_in
from tests.factories import make_district, make_driver, make_product, make_resident, make_shop, make_vehicle

DAY = date(2026, 12, 1)             # Tue; the conftest clock is 08:00 JST, before the 10:00 cutoff
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=JST)


@pytest.fixture
def two_vans(app, client, session):  # type: ignore[no-untyped-def]
    """Two vans with an afternoon's shift, depots ~4 km apart, each with a farm and a house next to its
    depot: left free, the solver gives each van its own house (the other van would drive ~11 km more)."""
    district = make_district(session)
    vans, radishes, people = [], [], []
    for n, lon in ((1, 140.00), (2, 140.05)):
        van = make_vehicle(session, name=f"軽バン{n}号", depot_lat=38.10, depot_lon=lon,
                           shift_start="13:00", shift_end="17:00")
        make_driver(session, van, line_user_id=f"Udriver{n}")
        farm = make_shop(session, name=f"直売所{n}", lat=38.101, lon=lon + 0.002)
        vans.append(van.id)
        radishes.append(make_product(session, farm, name="大根", stock=100).id)
        people.append(make_resident(session, district, lat=38.102, lon=lon - 0.002, line_user_id=f"Uhouse{n - 1}"))
    session.commit()
    first = place_order(session, resident_id=people[0].id, items=[LineItem(radishes[0], 5)], placed_by="test",
                        channel="line", now=NOW).id
    second = place_order(session, resident_id=people[1].id, items=[LineItem(radishes[1], 5)], placed_by="test",
                         channel="line", now=NOW).id
    session.commit()
    assert plan_day(app, delivery_date=DAY, actor="staff:test", time_limit_s=1).unassigned == 0
    sign_in(client)
    out = {"first": first, "second": second, "vans": vans, "district": district.id, "radishes": radishes}
    assert _van_of(session, first) == vans[0] and _van_of(session, second) == vans[1]
    return out


def _van_of(session, order_id: int) -> int | None:  # type: ignore[no-untyped-def]
    """The vehicle whose run in the day's active plan hands ``order_id`` over (None: on no run)."""
    stops = session.scalars(select(RunStop).join(Run).join(Plan).where(
        Plan.active.is_(True), RunStop.kind == "delivery")).all()
    found = next((s.run.vehicle_id for s in stops if order_id in s.order_ids), None)
    session.rollback()
    return found


def _run_of_van(session, vehicle_id: int) -> int:  # type: ignore[no-untyped-def]
    run_id = session.scalars(select(Run.id).join(Plan).where(Plan.active.is_(True), Run.vehicle_id == vehicle_id)).one()
    session.rollback()
    return run_id


def _post(client, order_id: int, action: str, **data: str):  # type: ignore[no-untyped-def]
    page = client.get(f"/staff/orders/{order_id}").get_data(as_text=True)
    return client.post(f"/staff/orders/{order_id}/{action}", data={"csrf_token": csrf_of(page), **data},
                       follow_redirects=True)


def _replan(app) -> None:  # type: ignore[no-untyped-def]
    plan_day(app, delivery_date=DAY, actor="staff:test", time_limit_s=1)


def test_a_door_moved_by_hand_stays_on_its_van_when_re_planned(app, client, session, two_vans) -> None:
    first, (van1, van2) = two_vans["first"], two_vans["vans"]
    _post(client, first, "move-van", to=f"run:{_run_of_van(session, van2)}")
    assert _van_of(session, first) == van2
    page = client.get(f"/staff/orders/{first}").get_data(as_text=True)
    assert "手動で固定: <strong>軽バン2号</strong>" in page and "固定を外す" in page

    _replan(app)                                   # plan version n+1 decides afresh, except for the pin
    assert _van_of(session, first) == van2
    assert _van_of(session, two_vans["second"]) == van2

    done = _post(client, first, "unpin").get_data(as_text=True)
    assert "車両の固定を外しました" in done and "手動で固定" not in done
    assert session.scalars(select(StopPin)).all() == []
    session.rollback()
    _replan(app)                                   # free again: the near van takes it back
    assert _van_of(session, first) == van1


def test_a_late_order_assigned_by_hand_stays_on_that_van(app, client, session, two_vans) -> None:
    """A late order put at the end of the far van by hand: the plan after it keeps it on that van."""
    van2 = two_vans["vans"][1]
    district = session.get(District, two_vans["district"])
    late = make_resident(session, district, lat=38.1025, lon=139.997, line_user_id="Ulate")
    session.commit()
    order_id = place_order(session, resident_id=late.id, items=[LineItem(two_vans["radishes"][0], 2)],
                           placed_by="test", channel="line", now=NOW).id
    session.commit()
    page = client.get(f"/staff/orders?date={DAY.isoformat()}").get_data(as_text=True)
    client.post(f"/staff/orders/{order_id}/assign?date={DAY.isoformat()}",
                data={"csrf_token": csrf_of(page), "to": f"run:{_run_of_van(session, van2)}"})
    assert _van_of(session, order_id) == van2
    _replan(app)
    assert _van_of(session, order_id) == van2
    assert session.scalars(select(StopPin.vehicle_id)).all() == [van2]


def test_a_pinned_van_out_of_service_leaves_the_door_unassigned_with_a_reason(app, client, session,
                                                                             two_vans) -> None:
    first, (van1, van2) = two_vans["first"], two_vans["vans"]
    _post(client, first, "move-van", to=f"run:{_run_of_van(session, van2)}")
    session.execute(update(Vehicle).where(Vehicle.id == van2).values(active=False))   # the driver is off
    session.commit()
    _replan(app)
    assert _van_of(session, first) is None                     # not quietly put on the other van
    rows = session.scalars(select(UnassignedOrder).join(Plan).where(Plan.active.is_(True))).all()
    reasons = {u.order_id: (u.reason_code, u.reason) for u in rows}
    session.rollback()
    assert set(reasons) == {first}                              # the other house rides the van still out
    assert _van_of(session, two_vans["second"]) == van1
    code, text = reasons[first]
    assert code == "pinned_vehicle_off" and "手動で固定した軽バン2号" in text
    _post(client, first, "unpin")
    _replan(app)
    assert _van_of(session, first) == van1


def test_the_portfolio_leaves_pyvrp_out_of_a_pinned_problem() -> None:
    """PyVRP has no per-stop vehicle lists: on a day with a pinned door it would plan another problem,
    so the portfolio runs OR-Tools in both processes, and the pinned stop rides its van."""
    from delivery.problem import RoutingProblem, Stop as RStop, TimeWindow, Vehicle as RVehicle
    from delivery.routing import solve

    m = ((0, 10, 500), (10, 0, 490), (500, 490, 0))
    vans = (RVehicle("v1", 1, 1, TimeWindow(0, 30_000), (10,)), RVehicle("v2", 2, 2, TimeWindow(0, 30_000), (10,)))
    stops = (RStop("pinned", 1, vehicles=("v2",), demand=(1,)), RStop("free", 1, demand=(1,)))
    plan = solve(RoutingProblem(vans, stops, m, m), time_limit_s=2)
    assert plan.stats.candidates and all(k.startswith("ortools/") for k, _ in plan.stats.candidates)
    assert plan.unassigned == ()
    assert "pinned" in [v.stop_id for r in plan.routes if r.vehicle_id == "v2" for v in r.visits]


def test_routes_that_put_a_pinned_stop_on_another_van_are_mended() -> None:
    """The check every engine's routes pass (``make_whole``) does not take an engine's word for the
    vehicle lists: a pinned stop handed back on the wrong van is moved onto its own."""
    from delivery.problem import RoutingProblem, Stop as RStop, TimeWindow, Vehicle as RVehicle
    from delivery.solver.whole import make_whole

    m = ((0, 10, 500), (10, 0, 490), (500, 490, 0))
    vans = (RVehicle("v1", 1, 1, TimeWindow(0, 30_000), (10,)), RVehicle("v2", 2, 2, TimeWindow(0, 30_000), (10,)))
    pinned, free = RStop("pinned", 1, vehicles=("v2",), demand=(1,)), RStop("free", 1, demand=(1,))
    routes, unserved = make_whole(RoutingProblem(vans, (pinned, free), m, m), [[pinned, free], []])
    assert unserved == set()
    assert [v.stop_id for v in routes[1].visits] == ["pinned"] and [v.stop_id for v in routes[0].visits] == ["free"]
