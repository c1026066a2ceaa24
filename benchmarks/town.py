"""Synthetic pilot-town day for ``python -m benchmarks.vrp --town N``.

A seeded, made-up day around Nagai (depot at 38.1075 N 140.0405 E): N orders from residents in six
districts on a ring 2.5 km around the depot (each district a ~0.8 km scatter of houses), 25 shops
(60 % within ~1.3 km of the depot, the rest farm stands out in the districts); a bigger city is several such
towns, each with its depot and shops; 55 % of orders fed by a shop (pickup then delivery, same van), the rest from depot
stock; windows 午前 9–12 / 午後 13–18 / a few narrower two-hour ones; a minute at each door (two when paying
cash); 3 minutes to park and walk into a shop, then 30 s per order; crates and cold-box slots;
vans (80 crates, 16 cold slots) making a morning trip 8:00–12:30 and an afternoon trip 13:15–18:00
(reloading at the depot over lunch). Distances: haversine × 1.3 at 30 km/h
(``delivery.distances.StraightLine``).

Variants: ``joint`` (one problem, every van may go anywhere: districts planned first for 40 % of the
time, then the whole town improved from that plan), ``joint-cold`` (the same problem solved from
scratch), ``per-district`` (one van per district, districts solved separately), ``towns`` (for big cities: districts
first, then each town's six districts and their vans improved as one problem from that plan, towns side by side in
worker processes), ``clustered`` (for big cities: groups of six neighbouring districts with their vans, solved from
scratch in parallel worker processes; ``benchmarks.decompose``).
"""

from __future__ import annotations

import json
import math
import os
import random
import resource
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from delivery.distances import Point, StraightLine
from delivery.problem import RoutePlan, RoutingProblem, Stop, TimeWindow, Vehicle
from delivery.routing import solve
from benchmarks.decompose import solve_by_cluster, solve_joint_from_clusters

DEPOT = Point(38.1075, 140.0405)
H = 3600
KM_LAT = 1 / 111.195
KM_LON = 1 / (111.195 * math.cos(math.radians(DEPOT.lat)))


@dataclass(frozen=True)
class Town:
    problem: RoutingProblem
    district_of: dict[str, str]  # delivery id -> district
    van_of: dict[str, list[str]]  # district -> its own van's two trips (per-district variant)


def _near(rnd: random.Random, c: Point, sigma_km: float) -> Point:
    return Point(c.lat + rnd.gauss(0, sigma_km) * KM_LAT, c.lon + rnd.gauss(0, sigma_km) * KM_LON)


def make_town(orders: int, *, districts: int = 6, vehicles: int = 6, seed: int = 0) -> Town:
    """The pilot town for six districts; a bigger city is several such towns side by side (every six
    districts share a depot and their own shops, towns 12 km apart on a grid), as a city grows."""
    rnd = random.Random(seed)
    n_towns = math.ceil(districts / 6)
    side = math.ceil(math.sqrt(n_towns))
    depots = [
        Point(DEPOT.lat + 12 * (t // side) * KM_LAT, DEPOT.lon + 12 * (t % side) * KM_LON) for t in range(n_towns)
    ]
    # district centres: six on a ring 2.5 km around their town's depot
    centres = []
    for d in range(districts):
        town, k = divmod(d, 6)
        angle = 2 * math.pi * k / 6
        c = depots[town]
        centres.append(Point(c.lat + 2.5 * math.sin(angle) * KM_LAT, c.lon + 2.5 * math.cos(angle) * KM_LON))
    shops_per_town = max(25, orders // (24 * n_towns))
    shops: list[tuple[Point, int, int | None]] = []  # (where, town, district for a farm stand)
    for t in range(n_towns):
        ds = [d for d in range(districts) if d // 6 == t]
        for s in range(shops_per_town):
            if s < 0.6 * shops_per_town:
                shops.append((_near(rnd, depots[t], 1.3), t, None))
            else:
                d = rnd.choice(ds)
                shops.append((_near(rnd, centres[d], 0.8), t, d))
    points: list[Point] = depots + [p for p, _, _ in shops]
    shop_loc = {s: n_towns + s for s in range(len(shops))}
    central = {t: [s for s, (_, st, sd) in enumerate(shops) if st == t and sd is None] for t in range(n_towns)}
    stops: list[Stop] = []
    district_of: dict[str, str] = {}
    for o in range(orders):
        d = rnd.randrange(districts)
        home = len(points)
        points.append(_near(rnd, centres[d], 0.8))
        w = rnd.random()
        window = TimeWindow(9 * H, 12 * H) if w < 0.45 else TimeWindow(13 * H, 18 * H) if w < 0.9 else rnd.choice([TimeWindow(10 * H, 12 * H), TimeWindow(14 * H, 16 * H)])
        demand = (rnd.choice([1, 1, 1, 2]), 1 if rnd.random() < 0.2 else 0)
        service = 60 + (60 if rnd.random() < 0.3 else 0)
        oid = f"o{o}"
        if rnd.random() < 0.55:
            local = [s for s, (_, _, sd) in enumerate(shops) if sd == d]
            s = rnd.choice(local) if local and rnd.random() < 0.3 else rnd.choice(central[d // 6])
            stops.append(Stop(f"p{o}", shop_loc[s], "pickup", TimeWindow(8 * H, 16 * H + 1800), 30, demand))
            stops.append(Stop(oid, home, "delivery", window, service, demand, pickup=f"p{o}"))
        else:
            stops.append(Stop(oid, home, "delivery", window, service, demand))
        district_of[oid] = f"d{d}"
    travel, dist = StraightLine().arrays(points)
    setup = tuple(180 if n_towns <= i < n_towns + len(shops) else 0 for i in range(len(points)))
    # each van makes two trips from its town's depot, reloading over the lunch break: a morning trip
    # and an afternoon trip are two vehicles of the problem (one van cannot carry a day's depot goods)
    vans = tuple(
        Vehicle(f"van{k}-{half}", (k % districts) // 6, (k % districts) // 6, shift, (80, 16))
        for k in range(vehicles)
        for half, shift in (("am", TimeWindow(8 * H, 12 * H + 1800)), ("pm", TimeWindow(13 * H + 900, 18 * H)))
    )
    problem = RoutingProblem(vans, tuple(stops), travel, dist, setup, ("crates", "cold"))
    van_of = {f"d{d}": [f"van{d % vehicles}-am", f"van{d % vehicles}-pm"] for d in range(districts)}
    return Town(problem, district_of, van_of)


def _row(variant: str, town: Town, plan: RoutePlan, seconds: float, tree_mb: int) -> dict:
    deliveries = [s for s in town.problem.stops if s.kind == "delivery"]
    unserved = {u.stop_id for u in plan.unassigned}
    reasons: dict[str, int] = {}
    for u in plan.unassigned:
        reasons[u.reason] = reasons.get(u.reason, 0) + 1
    return {
        "variant": variant,
        "orders": len(deliveries),
        "vehicles_used": len(plan.routes),
        "served": sum(1 for s in deliveries if s.id not in unserved),
        "unassigned": reasons,
        "distance_km": round(plan.distance / 1000, 2),
        "seconds": round(seconds, 1),
        "peak_rss_mb": _peak_rss_mb(),
        "peak_tree_rss_mb": tree_mb,
        "engine": f"{plan.stats.engine}/{plan.stats.strategy}",
        "candidates": [list(c) for c in plan.stats.candidates],
    }


class TreeMemory:
    """Peak of the summed resident memory of this process and all its descendants (worker pools and
    their search processes run at the same time, so the sum is what the machine must hold), sampled
    from /proc every 0.2 s while a variant runs."""

    def __init__(self) -> None:
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> "TreeMemory":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mb(self) -> int:
        return round(self.peak_kb / 1024)

    def _sample(self) -> None:
        root = os.getpid()
        while True:
            self.peak_kb = max(self.peak_kb, _tree_rss_kb(root))
            if self._stop.wait(0.2):
                return


def _tree_rss_kb(root: int) -> int:
    parent: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            status = (entry / "status").read_text()
        except OSError:
            continue   # gone between listing and reading
        parent[int(entry.name)] = int(stat[1])
        rss[int(entry.name)] = next((int(line.split()[1]) for line in status.splitlines()
                                     if line.startswith("VmRSS:")), 0)
    total = 0
    for pid, kb in rss.items():
        p = pid
        while p not in (0, 1) and p != root:
            p = parent.get(p, 0)
        total += kb if p == root else 0
    return total


def _peak_rss_mb() -> int:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, kids) / 1024)  # Linux reports kB; the larger of us and our biggest worker


def _run_variant(variant: str, town: Town, *, time_limit: float, engines: tuple[str, ...], seed: int) -> RoutePlan:
    if variant == "joint":
        vehicles_of = dict(town.van_of)
        plan = solve_joint_from_clusters(town.problem, town.district_of, vehicles_of, time_limit_s=time_limit, seed=seed, engines=engines)
    elif variant == "joint-cold":
        plan = solve(town.problem, time_limit_s=time_limit, seed=seed, engines=engines)
    elif variant == "towns":
        # big cities: districts first, then each town (six districts and their vans) improved as one
        group_of = {d: f"t{int(d[1:]) // 6}" for d in town.van_of}
        plan = solve_joint_from_clusters(town.problem, town.district_of, dict(town.van_of), time_limit_s=time_limit,
                                         seed=seed, engines=engines, group_of=group_of)
    elif variant == "per-district":
        vehicles_of = dict(town.van_of)
        plan = solve_by_cluster(town.problem, town.district_of, vehicles_of, time_limit_s=time_limit, seed=seed, engines=engines)
    else:
        # groups of six neighbouring districts (one ring sector each), with their six vans
        cluster_of = {o: f"c{int(d[1:]) // 6}" for o, d in town.district_of.items()}
        vehicles_of: dict[str, list[str]] = {}
        for d, trips in town.van_of.items():
            vehicles_of.setdefault(f"c{int(d[1:]) // 6}", []).extend(trips)
        plan = solve_by_cluster(town.problem, cluster_of, vehicles_of, time_limit_s=time_limit, seed=seed, engines=engines)
    return plan


def run_town(orders: int, *, time_limit: float, engines: tuple[str, ...], seed: int, as_json: bool,
             districts: int = 6, vehicles: int = 6, variants: tuple[str, ...] | None = None) -> int:
    if orders > 1000 and districts == 6:
        districts = vehicles = max(6, orders // 100)
    began = time.monotonic()
    town = make_town(orders, districts=districts, vehicles=vehicles, seed=seed)
    build = time.monotonic() - began
    rows = []
    chosen = variants or (("joint", "per-district", "joint-cold") if districts <= 12 else ("towns", "per-district"))
    for variant in chosen:
        t0 = time.monotonic()
        with TreeMemory() as memory:
            plan = _run_variant(variant, town, time_limit=time_limit, engines=engines, seed=seed)
        rows.append(_row(variant, town, plan, time.monotonic() - t0, memory.peak_mb))
    if as_json:
        print(json.dumps({"build_seconds": round(build, 1), "rows": rows}, indent=1))
    else:
        print(f"town: {orders} orders, {districts} districts, {vehicles} vans, {len(town.problem.stops)} stops "
              f"(built in {build:.1f} s), time limit {time_limit:g} s")
        print(f"{'variant':<13} {'served':>7} {'vans':>5} {'distance km':>12} {'seconds':>8} {'peak RSS MB':>12} "
              f"{'all processes MB':>17}  unassigned")
        for r in rows:
            print(f"{r['variant']:<13} {r['served']:>7} {r['vehicles_used']:>5} {r['distance_km']:>12.2f} {r['seconds']:>8.1f} "
                  f"{r['peak_rss_mb']:>12} {r['peak_tree_rss_mb']:>17}  {r['unassigned'] or '-'}  {r['engine']}")
    return 0
