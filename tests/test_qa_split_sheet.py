"""An order with goods from two shops can be planned as two legs to one door, even by two vans (seen on
the demo town: one resident listed with the full order and full cash on two vans' sheets). Each sheet
must list only the goods on its van and ask for the money once."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select

from delivery.models import Plan, Run, RunStop
from delivery.sheets import run_sheet
from orders.models import Order
from core.clock import JST
from tests.factories import make_vehicle, run_link_token
from tests.test_planning import town  # noqa: F401  (fixture)

DAY = date(2026, 12, 1)
T0 = datetime(2026, 12, 1, 13, 0, tzinfo=JST)


def _run(plan: Plan, vehicle_id: int, legs: list[RunStop]) -> Run:
    run = Run(vehicle_id=vehicle_id, start_at=T0, end_at=T0 + timedelta(hours=2), distance_m=1000,
              duration_s=3600, districts="中央")
    for seq, stop in enumerate(legs, start=1):
        stop.seq = seq
        run.stops.append(stop)
    plan.runs.append(run)
    return run


def _pick(shop_id: int, order_id: int, minutes: int) -> RunStop:
    return RunStop(kind="pickup", shop_id=shop_id, picks=[order_id], lat=38.11, lon=140.03,
                   eta=T0 + timedelta(minutes=minutes))


def _drop(order_id: int, minutes: int) -> RunStop:
    return RunStop(kind="delivery", order_ids=[order_id], lat=38.1075, lon=140.0405,
                   eta=T0 + timedelta(minutes=minutes), window_start="13:00", window_end="17:00")


def test_an_order_split_over_two_vans_is_paid_once(session, town) -> None:  # noqa: F811
    order = session.get(Order, town["orders"][1])          # 大根 from the farm + 豆腐 from the grocer
    assert {line.shop_id for line in order.lines} == {town["farm"], town["grocer"]}
    other_van = make_vehicle(session, name="軽バン9号")
    plan = Plan(delivery_date=DAY, version=1, active=True, trigger="test", created_by="test",
                created_at=T0 - timedelta(hours=3))
    session.add(plan)
    first = _run(plan, town["van"], [_pick(town["farm"], order.id, 0), _drop(order.id, 20)])
    second = _run(plan, other_van.id, [_pick(town["grocer"], order.id, 30), _drop(order.id, 60)])
    session.commit()
    total = f"{order.total_yen:,}円"

    early = run_sheet(session, first.id)
    (leg,) = [s for s in early.stops if s.kind == "delivery"]
    assert any(i.startswith("大根") for i in leg.items) and not any(i.startswith("豆腐") for i in leg.items)
    assert any("別の便" in i for i in leg.items)
    assert not leg.collect.startswith("現金") and "軽バン9号" in leg.collect   # no cash box on this leg
    assert early.cash_total_yen == 0

    late = run_sheet(session, second.id)
    (leg,) = [s for s in late.stops if s.kind == "delivery"]
    assert any(i.startswith("豆腐") for i in leg.items) and not any(i.startswith("大根") for i in leg.items)
    assert leg.collect == f"現金 {total}" and late.cash_total_yen == order.total_yen


def test_an_order_delivered_in_one_leg_is_unchanged(session, town) -> None:  # noqa: F811
    order = session.get(Order, town["orders"][1])
    plan = Plan(delivery_date=DAY, version=1, active=True, trigger="test", created_by="test",
                created_at=T0 - timedelta(hours=3))
    session.add(plan)
    run = _run(plan, town["van"], [_pick(town["farm"], order.id, 0), _pick(town["grocer"], order.id, 10),
                                   _drop(order.id, 20)])
    session.commit()
    sheet = run_sheet(session, run.id)
    (leg,) = [s for s in sheet.stops if s.kind == "delivery"]
    assert len(leg.items) == len(order.lines) and leg.collect == f"現金 {order.total_yen:,}円"
    assert sheet.cash_total_yen == order.total_yen
    assert session.scalars(select(RunStop.id)).all()


def test_an_order_cancelled_after_planning_is_neither_picked_up_nor_delivered(app, client, session,
                                                                                 town) -> None:  # noqa: F811
    from delivery.runner import plan_day
    from orders.changes import cancel_order

    plan_day(app, delivery_date=DAY, actor="staff:test", time_limit_s=1)   # staff plan early, before cutoff
    gone = town["orders"][1]                                               # the only tofu besides order 3
    cancel_order(session, order_id=gone, actor="resident", channel="phone", now=T0 - timedelta(hours=5))
    session.commit()
    run_id = session.scalars(select(Run.id)).one()
    sheet = run_sheet(session, run_id)
    (leg,) = [s for s in sheet.stops if gone in s.order_ids]
    assert leg.cancelled and "取り消し" in leg.notes and not leg.collect.startswith("現金")
    kept = [session.get(Order, i) for i in town["orders"] if i != gone]
    assert sheet.cash_total_yen == sum(o.total_yen for o in kept if o.payment_method == "cash")
    tofu = [s for s in sheet.stops if s.kind == "pickup" and any(i.startswith("豆腐") for i in s.items)]
    assert all("豆腐 2丁" in s.items for s in tofu)                        # order 3's two, not four
    session.rollback()
    page = client.get(f"/driver/run/{run_link_token(app, run_id)}").get_data(as_text=True)
    block = page.split(f'id="stop-{leg.id}"')[1].split('<div class="stop')[0]
    assert "お届けしません" in block and "配達完了" not in block and 'name="cash"' not in block
