"""When a plan leaves orders out, it says which limit binds and what would have served them all,
computed by solving the day again with that limit eased (delivery.advice)."""

from __future__ import annotations

from tests.accounts_support import sign_in
from datetime import date, datetime

from sqlalchemy import select

from delivery.models import Plan, UnassignedOrder
from delivery.runner import plan_day
from orders.service import LineItem, place_order
from core.clock import JST
from tests.factories import make_district, make_product, make_resident, make_shop, make_vehicle

DAY = date(2026, 12, 1)


def _short_handed_day(session, doors: int) -> None:  # type: ignore[no-untyped-def]
    """One van working 12:30–14:00 and ``doors`` residents a few hundred metres apart who each want
    something from one shop between 13:00 and 17:00: each fits alone, not all together."""
    district = make_district(session)
    shop = make_shop(session, lat=38.1075, lon=140.0405)
    radish = make_product(session, shop, stock=100)
    make_vehicle(session, shift_start="12:30", shift_end="14:00")
    residents = [make_resident(session, district, lat=38.1075 + 0.004 * (i % 4), lon=140.0405 + 0.004 * (i // 4))
                 for i in range(doors)]
    session.commit()
    for r in residents:
        place_order(session, resident_id=r.id, items=[LineItem(radish.id, 1)], placed_by="test", channel="web",
                    now=datetime(2026, 12, 1, 8, 0, tzinfo=JST))
    session.commit()


def test_orders_left_out_for_van_hours_come_with_the_van_that_would_serve_them(app, session) -> None:
    _short_handed_day(session, doors=16)
    outcome = plan_day(app, delivery_date=DAY, actor="staff:test", time_limit_s=2)
    assert outcome.unassigned > 0 and outcome.orders > 0
    plan = session.scalars(select(Plan)).one()
    assert plan.advice is not None and plan.advice.startswith("あと1台（12:00〜17:30）あれば")
    reasons = {u.reason_code for u in session.scalars(select(UnassignedOrder))}
    assert reasons == {"fleet_time"}


def test_a_day_that_fits_has_no_advice(app, session) -> None:
    _short_handed_day(session, doors=2)
    outcome = plan_day(app, delivery_date=DAY, actor="staff:test", time_limit_s=1)
    assert outcome.unassigned == 0
    assert session.scalars(select(Plan)).one().advice is None


def test_the_drivers_break_is_planned_and_printed_on_the_sheet(app, session) -> None:
    from delivery.models import Run
    from delivery.sheets import run_sheet

    district = make_district(session)
    shop = make_shop(session)
    radish = make_product(session, shop, stock=100)
    make_vehicle(session, shift_start="11:00", shift_end="17:00", break_start="12:00", break_minutes=45)
    resident = make_resident(session, district)
    session.commit()
    place_order(session, resident_id=resident.id, items=[LineItem(radish.id, 1)], placed_by="test", channel="web",
                now=datetime(2026, 12, 1, 8, 0, tzinfo=JST))
    session.commit()
    plan_day(app, delivery_date=DAY, actor="staff:test", time_limit_s=1)
    run = session.scalars(select(Run)).one()
    assert run.break_at is not None and run.break_minutes == 45
    start = run.break_at.astimezone(JST)
    assert (12, 0) <= (start.hour, start.minute) <= (13, 0)
    assert run_sheet(session, run.id).break_text.startswith(f"休憩 {start:%H:%M}〜")


def test_the_coordinator_sees_the_advice_beside_the_left_out_orders(app, session, client) -> None:
    _short_handed_day(session, doors=16)
    plan_day(app, delivery_date=DAY, actor="staff:test", time_limit_s=2)
    sign_in(client)
    page = client.get(f"/staff/?date={DAY.isoformat()}").get_data(as_text=True)
    assert 'id="plan-advice"' in page and "あと1台（12:00〜17:30）あれば" in page



def test_a_stop_the_unchanged_day_can_serve_is_searched_for_again_before_any_limit_is_blamed() -> None:
    from delivery.advice import search_again
    from delivery.problem import RoutePlan, SolverStats, Unassigned
    from tests.test_routing import problem, van
    from delivery.problem import Stop

    day = problem([0, 100, 200], [van()], [Stop("A", 1), Stop("B", 2)])
    # what an unlucky first search might hand back: everything left out, blamed on van hours
    unlucky = RoutePlan((), (Unassigned("A", "fleet_time"), Unassigned("B", "fleet_time")), 10**9,
                        SolverStats("ortools", "x", 4.0, "time_limit"))
    again = search_again(day, unlucky, time_limit_s=0.5)
    assert again.unassigned == ()
    assert again.stats.seconds > 4.0          # both searches are counted
    served = RoutePlan(again.routes, (), again.objective, again.stats)
    assert search_again(day, served, time_limit_s=0.5) is served   # nothing left out: no second search
