"""``make bench-day``: the pilot's own day, planned by the product exactly as it ships.

Each row is a fresh SQLite database with the fictional demo town (``demo.seed``), a day of orders from
``demo.simulate`` (seed 1–3) and one call of ``delivery.runner.plan_day`` with the product's time limit:
the same problem builder, fleet (breaks included), portfolio and storing of runs as the cutoff job.
Larger days use a town with more residents per hamlet and a fleet sized by the stated rule: the demo
fleet repeated once per 120 orders (``FLEET_RULE``).

Columns: orders on runs / orders; van-hours used (leave → back) / offered (shifts of the vans used
and unused); a lower bound on the van-hours any plan needs (every service time, plus for each place
visited the shortest drive into it from anywhere else: each place must be arrived at once); km; the
most calls one van makes at one shop within one trip (a trip ends when the van is empty and at the
driver's break); doors a van calls at twice; solve seconds; and the day planned again at once (the
coordinator's 「今すぐ計画」: a new version warm-started from the first), orders on runs and km.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from collections import Counter
from datetime import date, datetime

from delivery.second_calls import ROOM as ROOM_REASON

FLEET_RULE = "demo fleet × ceil(orders / 120)"
# One day of each delivery pattern the demo calendar has (中央 runs daily; the other districts in pairs):
# Wednesday/Saturday 中央+平野, Thursday/Monday 中央+致芳+豊田, Friday/Tuesday 中央+西根+伊佐沢.
DAYS = {"wed": date(2026, 12, 2), "thu": date(2026, 12, 3), "fri": date(2026, 12, 4)}
NOW = "2026-12-01T08:00:00+09:00"


def run_day(day: date, orders: int, seed: int, time_limit_s: float | None) -> dict[str, object]:
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from places.models import District
    from delivery.models import Plan, Run, Vehicle
    from delivery.problem_builder import ServiceTimes, hhmm_to_s
    from delivery.runner import plan_day
    from demo.seed import seed_demo
    from demo.simulate import simulate_orders
    from orders.models import Order
    from otodoke import create_app
    from core import migrate
    from core.clock import FixedClock
    from core.db import db, make_engine

    folder = tempfile.mkdtemp(prefix="bench-day-")
    url = f"sqlite:///{folder}/day.db"
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    now = datetime.fromisoformat(NOW)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "JOBS_URL": f"sqlite:///{folder}/jobs.db",
                      "LINE_CHANNEL_SECRET": "", "LINE_CHANNEL_ACCESS_TOKEN": "", "TWILIO_ACCOUNT_SID": "",
                      "TWILIO_AUTH_TOKEN": ""}, clock=FixedClock(now))
    scale = math.ceil(orders / 120)
    with app.app_context():
        with db.transaction(app) as session:
            seed_demo(session, now=now, residents_per_home=scale + 1 if scale > 1 else 1)
            if scale > 1:
                fleet = list(session.scalars(select(Vehicle).order_by(Vehicle.id)))
                for copy in range(2, scale + 1):
                    for v in fleet:
                        session.add(Vehicle(name=f"{v.name}-{copy}", capacity_crates=v.capacity_crates,
                                            capacity_cold=v.capacity_cold, depot_lat=v.depot_lat, depot_lon=v.depot_lon,
                                            shift_start=v.shift_start, shift_end=v.shift_end,
                                            break_start=v.break_start, break_minutes=v.break_minutes, active=True))
        with db.transaction(app) as session:
            report = simulate_orders(session, delivery_date=day, count=orders, seed=seed, now=now)
        began = time.monotonic()
        outcome = plan_day(app, delivery_date=day, actor="bench", time_limit_s=time_limit_s)
        wall = time.monotonic() - began
        # 「今すぐ計画」 pressed again: a new version, warm-started from this one
        again = plan_day(app, delivery_date=day, actor="bench:again", time_limit_s=time_limit_s)
        with db.reading(app) as session:
            plan = session.get(Plan, outcome.plan_id)
            runs = list(session.scalars(select(Run).where(Run.plan_id == plan.id).options(selectinload(Run.stops))))
            vans = list(session.scalars(select(Vehicle).where(Vehicle.active.is_(True))))
            resident_of = dict(session.execute(select(Order.id, Order.resident_id).where(Order.delivery_date == day)).all())
            total = len(resident_of)
            districts = "+".join(session.scalars(
                select(District.name).join(Order, Order.district_id == District.id)
                .where(Order.delivery_date == day).group_by(District.id, District.name).order_by(District.id)))
            offered = sum(hhmm_to_s(v.shift_end) - hhmm_to_s(v.shift_start) - v.break_minutes * 60 for v in vans)
            used = sum(r.duration_s for r in runs)
            shop_calls, doors_twice, repeats = _street_figures(runs, resident_of)
            lower = _lower_bound_s(session, day, ServiceTimes(), app)
            replanned = session.get(Plan, again.plan_id)
            return {
                "districts": districts, "orders": orders, "seed": seed, "placed": total, "on_runs": plan.order_count, "vans": len(vans),
                "used_h": used / 3600, "offered_h": offered / 3600, "bound_h": lower / 3600,
                "km": plan.total_distance_m / 1000, "shop_calls": shop_calls, "doors_twice": doors_twice,
                "again_room": repeats["room"], "again_window": repeats["window"], "again_longer": repeats["longer"],
                "again_other": repeats["other"],
                "solve_s": plan.solver_seconds or 0.0, "wall_s": wall, "sold_out": len(report.sold_out),
                "strategy": plan.strategy, "again_on_runs": replanned.order_count,
                "again_km": replanned.total_distance_m / 1000,
            }


def _why_kind(why: str) -> str:
    """A second call's reason as the sheet gives it: "room" (the van was full: a reload trip, which
    the issue allows), "window" (a door's or shop's hours), "longer" (the fold drives further than the
    parking it saves), else "other" (the first call's goods are handed over on the way, a break, a shift)."""
    if ROOM_REASON in why:
        return "room"
    if "間に合わない" in why:
        return "window"
    return "longer" if "km長く" in why else "other"


def _street_figures(runs, resident_of: dict[int, int]) -> tuple[int, int, Counter[str]]:  # type: ignore[no-untyped-def]
    """(most calls at one shop by one van in one trip, door calls that repeat a door on the same van,
    the repeated shop calls by the reason on the sheet: ``_why_kind``)."""
    worst, twice = 0, 0
    again: Counter[str] = Counter()
    for run in runs:
        on_board: set[int] = set()
        calls: Counter[int] = Counter()
        doors: Counter[int] = Counter()
        last_door = None
        lunch = run.break_at
        for stop in sorted(run.stops, key=lambda s: s.seq):
            if lunch is not None and stop.eta >= lunch:
                calls.clear()  # the morning round ends at the break; the afternoon round collects its own
                lunch = None
            if stop.kind == "pickup":
                calls[stop.shop_id] += 1
                worst = max(worst, calls[stop.shop_id])
                if calls[stop.shop_id] > 1:
                    again[_why_kind(stop.why or "")] += 1
                on_board.update(stop.picks)
            else:
                door = resident_of.get(stop.order_ids[0])   # every order of a door stop is one resident's
                if door != last_door:
                    doors[door] += 1
                last_door = door
                on_board.difference_update(stop.order_ids)
                if not on_board:
                    calls.clear()  # the van is empty: the next call starts a new trip
        twice += sum(n - 1 for n in doors.values() if n > 1)
    return worst, twice, again


def _lower_bound_s(session, day: date, times, app) -> int:  # type: ignore[no-untyped-def]
    from delivery.planning import prepare_day
    from delivery.runner import _distance_cache

    cache = _distance_cache(app)
    built = prepare_day(session, delivery_date=day, trigger="bench-bound", now=datetime.fromisoformat(NOW),
                        matrix=lambda points: cache.matrix(day, points)).built
    problem = built.problem
    service = sum(s.service_s for s in problem.stops)
    places = {s.location for s in problem.stops}
    setup = sum(problem.setup(loc) for loc in places)
    travel = 0
    for loc in places:
        travel += min(int(problem.travel_s[other][loc]) for other in range(len(problem.travel_s)) if other != loc)
    return service + setup + travel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", nargs="+", choices=sorted(DAYS), default=["wed", "thu", "fri"])
    parser.add_argument("--orders", type=int, nargs="+", default=[120, 240, 480])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--time-limit", type=float, default=None,
                        help="seconds per plan; default: the product's (PLANNING_TIME_LIMIT_S=10 per 120 orders)")
    args = parser.parse_args()
    limit = f"{args.time_limit:g} s" if args.time_limit else "the product's (10 s per 120 orders)"
    print(f"fleet rule: {FLEET_RULE}; time limit {limit} per plan")
    print("| day | districts | orders | seed | vans | on runs | van-h used / offered | lower bound van-h | km | max shop calls per van trip | second shop calls: van full / window / longer / other | doors twice | solve s | re-planned: on runs, km |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name in args.days:
        day = DAYS[name]
        for orders in args.orders:
            for seed in args.seeds:
                r = run_day(day, orders, seed, args.time_limit)
                print(f"| {day:%a %m-%d} | {r['districts']} | {r['orders']} | {r['seed']} | {r['vans']} | {r['on_runs']}/{r['placed']} | "
                      f"{r['used_h']:.1f} / {r['offered_h']:.1f} | {r['bound_h']:.1f} | {r['km']:.1f} | "
                      f"{r['shop_calls']} | {r['again_room']} / {r['again_window']} / {r['again_longer']} / {r['again_other']} | {r['doors_twice']} | {r['solve_s']:.1f} | "
                      f"{r['again_on_runs']}/{r['placed']}, {r['again_km']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
