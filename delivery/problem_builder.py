"""Turns a day's confirmed orders and the fleet into a ``RoutingProblem`` (and back to ids).

Model of the day (all times are seconds from midnight, Asia/Tokyo, of the delivery day):

* every order is split by shop: for each shop it buys from, a pickup at the shop (inside the shop's
  pickup hours) feeds one delivery leg at the resident's door, on the same vehicle. The legs of one
  order share the resident's location, so the door time (``door_setup_s``) is paid once per arrival;
  each leg adds the hand-over time, and the door's first cash leg adds the cash time: a resident with
  two orders that day (one stop, see ``delivery.door_stops``) pays both bills in one go;
* co-located pickups at one shop share the shop's location: parking and walking in (``shop_setup_s``)
  is paid once per visit, each order adds ``pickup_per_order_s``;
* load is counted in items, ordinary and chilled apart: a van holds ``capacity_crates`` crates of
  ``items_per_crate`` items and ``capacity_cold`` cold-box slots of ``items_per_cold_slot``. Each shop
  bags an order, and bags of several orders share a crate, so an order of two items takes a quarter of
  a crate, not a whole one (rounding every leg up to a crate filled the demo vans by 10:00 with
  half-empty crates).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from delivery.distances import Matrix, Point
from delivery.models import Vehicle as VehicleRow
from delivery.problem import Break, RoutingProblem, Stop, TimeWindow, Vehicle
from orders.models import Order

LatLon = tuple[float, float]
MatrixFn = Callable[[Sequence[Point]], Matrix]   # e.g. a DistanceProvider's (or DayCache's) matrix


@dataclass(frozen=True)
class ServiceTimes:
    door_setup_s: int = 180        # walk to the door, greet, wait for an elderly resident to answer
    handover_s: int = 60           # per shop's bag handed over
    cash_s: int = 90               # counting change at the door
    shop_setup_s: int = 180        # park and walk in
    pickup_per_order_s: int = 45   # per order picked up at a shop
    items_per_crate: int = 8
    items_per_cold_slot: int = 6


def hhmm_to_s(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 3600 + int(minutes) * 60


@dataclass
class BuiltProblem:
    """The problem plus the maps needed to read the plan back into orders, shops and vehicles."""

    problem: RoutingProblem
    points: list[LatLon]
    stop_order: dict[str, int] = field(default_factory=dict)      # stop id → order id
    stop_shop: dict[str, int] = field(default_factory=dict)       # stop id → shop id
    vehicle_rows: dict[str, VehicleRow] = field(default_factory=dict)


def build_problem(orders: Sequence[Order], vehicles: Sequence[VehicleRow], matrix: MatrixFn, *,
                  times: ServiceTimes = ServiceTimes(), on_board: dict[int, int] | None = None,
                  pinned: dict[int, int] | None = None, not_before_s: int | None = None) -> BuiltProblem:
    """Build the routing problem for ``orders`` (lines, residents and shops loaded) and ``vehicles``.

    ``on_board`` maps orders already picked up to the vehicle row carrying them: they become plain
    deliveries pinned to that vehicle. ``pinned`` maps residents whose door a coordinator put on a van
    by hand to that vehicle row (``delivery.pins``): every leg of the door may ride only that van.
    ``not_before_s`` (re-planning during the day) keeps vehicles
    from being planned to leave in the past.
    """
    on_board = on_board or {}
    pinned = pinned or {}
    points: list[LatLon] = []
    index: dict[LatLon, int] = {}

    def location(lat: float, lon: float) -> int:
        key = (round(lat, 6), round(lon, 6))
        if key not in index:
            index[key] = len(points)
            points.append(key)
        return index[key]

    fleet: list[Vehicle] = []
    built = BuiltProblem(problem=None, points=points)  # type: ignore[arg-type]
    for row in vehicles:
        depot = location(row.depot_lat, row.depot_lon)
        breaks: tuple[Break, ...] = ()
        if row.break_start and row.break_minutes:
            start = hhmm_to_s(row.break_start)
            breaks = (Break(TimeWindow(start, start + 3600), row.break_minutes * 60),)
        vid = f"v{row.id}"
        shift_start, shift_end = hhmm_to_s(row.shift_start), hhmm_to_s(row.shift_end)
        if not_before_s is not None:
            shift_start = min(max(shift_start, not_before_s), shift_end)
        fleet.append(Vehicle(id=vid, start_location=depot, end_location=depot,
                             shift=TimeWindow(shift_start, shift_end),
                             capacity=(row.capacity_crates * times.items_per_crate,
                                       row.capacity_cold * times.items_per_cold_slot), fixed_cost=2000,
                             breaks=breaks))
        built.vehicle_rows[vid] = row

    stops: list[Stop] = []
    setup: dict[int, int] = {}
    counted_cash: set[int] = set()   # residents whose door already has the time to count change
    for order in orders:
        resident = order.resident
        home = location(resident.lat if resident.lat is not None else order.district.centre_lat,
                        resident.lon if resident.lon is not None else order.district.centre_lon)
        setup[home] = times.door_setup_s
        window = TimeWindow(hhmm_to_s(order.window_start), hhmm_to_s(order.window_end))
        # every leg of every order for this door rides one van: one stop at the door, one hand-over
        door = f"r{order.resident_id}"
        allowed = (f"v{pinned[order.resident_id]}",) if order.resident_id in pinned else None
        by_shop: dict[int, list] = {}
        for line in order.lines:
            by_shop.setdefault(line.shop_id, []).append(line)
        for shop_id, lines in sorted(by_shop.items()):
            shop = lines[0].shop
            plain = sum(l.quantity for l in lines if not l.cold)
            cold = sum(l.quantity for l in lines if l.cold)
            demand = (plain, cold)
            pickup_id, delivery_id = f"p{order.id}-{shop_id}", f"d{order.id}-{shop_id}"
            cash = order.payment_method == "cash" and order.resident_id not in counted_cash
            if cash:
                counted_cash.add(order.resident_id)
            service = times.handover_s + (times.cash_s if cash else 0)
            if order.id in on_board:
                stops.append(Stop(id=delivery_id, location=home, kind="delivery", window=window,
                                  service_s=service, demand=demand, vehicles=(f"v{on_board[order.id]}",),
                                  group=door))
                built.stop_order[delivery_id] = order.id
                built.stop_shop[delivery_id] = shop_id
                continue
            at_shop = location(shop.lat, shop.lon)
            setup[at_shop] = times.shop_setup_s
            stops.append(Stop(id=pickup_id, location=at_shop, kind="pickup",
                              window=TimeWindow(hhmm_to_s(shop.pickup_open), hhmm_to_s(shop.pickup_close)),
                              service_s=times.pickup_per_order_s, demand=demand, vehicles=allowed, group=door))
            stops.append(Stop(id=delivery_id, location=home, kind="delivery", window=window,
                              service_s=service, demand=demand, pickup=pickup_id, vehicles=allowed, group=door))
            for sid in (pickup_id, delivery_id):
                built.stop_order[sid] = order.id
                built.stop_shop[sid] = shop_id

    matrices = matrix([Point(lat, lon) for lat, lon in points])
    built.problem = RoutingProblem(
        vehicles=tuple(fleet), stops=tuple(stops), travel_s=matrices.travel_s, cost=matrices.distance_m,
        setup_s=tuple(setup.get(i, 0) for i in range(len(points))),
        dimensions=("crates", "cold"),
    )
    return built
