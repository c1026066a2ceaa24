"""The routing problem and the route plan: plain frozen dataclasses, no solver, no database.

Units are integers so the optimiser is exact and deterministic: times are seconds from an origin the
caller chooses (planning uses midnight JST of the delivery day), costs are whatever unit the caller's
``cost`` matrix is in (metres, or seconds when planning by travel time). Locations are indices into the
two matrices, so one shop or one depot appears once however many stops use it.

How the product maps onto it:

* a resident's order from depot stock is one ``Stop(kind="delivery")`` with no ``pickup``;
* an order fed by a shop is a ``Stop(kind="pickup")`` at the shop plus a ``Stop(kind="delivery")`` at the
  resident, the delivery naming its pickup in ``pickup``: same vehicle, pickup first;
* many pickups at one shop collapse into one visit: every (shop, delivery) pair has its own pickup stop,
  all at the shop's location, so the travel between them is zero; the one-off cost of stopping there
  (parking, walking in) is the location's ``setup_s``, charged only when a vehicle *arrives from another
  location*, while each stop's ``service_s`` is the per-order handling. The optimiser therefore has every
  reason to chain co-located pickups, and the route lists them one after another at the same time;
* goods already on board (pickup done, delivery pending) are a plain delivery pinned to that vehicle
  with ``vehicles=(vehicle_id,)``, and so is every leg of a door a coordinator pinned to a van by hand
  (``delivery.pins``); stops already done are simply left out by the caller, who also moves
  the vehicle's start to where it is and when.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Sequence
from typing import Literal

StopKind = Literal["delivery", "pickup"]
Objective = Literal["cost"]


@dataclass(frozen=True)
class TimeWindow:
    """Closed interval [start, end] in seconds; for a stop it bounds the *start* of service."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"time window ends before it starts: {self.start}..{self.end}")


@dataclass(frozen=True)
class Break:
    """A driver's break: it starts inside ``window`` and lasts ``duration_s`` (not during a service)."""

    window: TimeWindow
    duration_s: int


@dataclass(frozen=True)
class Vehicle:
    id: str
    start_location: int
    end_location: int
    shift: TimeWindow  # leave the start no earlier than shift.start, be back at the end by shift.end
    capacity: tuple[int, ...]  # one entry per capacity dimension (e.g. crates, cold-box slots)
    fixed_cost: int = 0  # added once if the vehicle is used at all
    breaks: tuple[Break, ...] = ()


@dataclass(frozen=True)
class Stop:
    id: str
    location: int
    kind: StopKind = "delivery"
    window: TimeWindow | None = None  # None: any time inside the vehicle's shift
    service_s: int = 0
    demand: tuple[int, ...] = ()  # what the stop moves, per capacity dimension (missing entries = 0)
    pickup: str | None = None  # for a delivery fed by a shop: the id of its pickup stop
    penalty: int | None = None  # cost of leaving it unserved; None = "must serve" (a very large penalty)
    vehicles: tuple[str, ...] | None = None  # only these vehicles may serve it (None = any)
    # Stops sharing a group ride one vehicle, all served or none: the shops' legs of one door's order.
    group: str | None = None


@dataclass(frozen=True, eq=False)
class RoutingProblem:
    """Everything the optimiser needs; validated on construction so mistakes fail early and loudly."""

    vehicles: tuple[Vehicle, ...]
    stops: tuple[Stop, ...]
    # travel time between locations in seconds, and arc cost (metres, or seconds): tuples of tuples,
    # or 2-d integer numpy arrays for big cities (a 5,000-point matrix of Python ints needs ~1 GB)
    travel_s: Sequence[Sequence[int]]
    cost: Sequence[Sequence[int]]
    setup_s: tuple[int, ...] = ()  # per location: paid once when a vehicle arrives from elsewhere
    dimensions: tuple[str, ...] = ("crates",)  # names of the capacity dimensions, for reports

    def __post_init__(self) -> None:
        n = len(self.travel_s)
        if len(self.cost) != n or any(len(r) != n for r in self.travel_s) or any(len(r) != n for r in self.cost):
            raise ValueError("travel_s and cost must be square matrices of the same size")
        if self.setup_s and len(self.setup_s) != n:
            raise ValueError("setup_s needs one entry per location")
        ids = [s.id for s in self.stops]
        if len(set(ids)) != len(ids):
            raise ValueError("stop ids must be unique")
        if len({v.id for v in self.vehicles}) != len(self.vehicles):
            raise ValueError("vehicle ids must be unique")
        by_id = {s.id: s for s in self.stops}
        vehicle_ids = {v.id for v in self.vehicles}
        for s in self.stops:
            if not 0 <= s.location < n:
                raise ValueError(f"stop {s.id}: location {s.location} outside the matrix")
            if len(s.demand) > len(self.dimensions):
                raise ValueError(f"stop {s.id}: more demand entries than dimensions")
            if s.pickup is not None:
                p = by_id.get(s.pickup)
                if p is None or p.kind != "pickup" or s.kind != "delivery":
                    raise ValueError(f"stop {s.id}: pickup {s.pickup!r} must be an existing pickup stop")
                if self.demand(p) != self.demand(s):
                    raise ValueError(f"stop {s.id}: a delivery drops exactly what its pickup collected")
            if s.vehicles is not None and not set(s.vehicles) <= vehicle_ids:
                raise ValueError(f"stop {s.id}: unknown vehicle in {s.vehicles}")
        fed = [s.pickup for s in self.stops if s.pickup is not None]
        if len(set(fed)) != len(fed):
            raise ValueError("a pickup stop can feed only one delivery")
        for s in self.stops:
            if s.kind == "pickup" and s.id not in fed:
                raise ValueError(f"pickup {s.id} feeds no delivery")
        for v in self.vehicles:
            if len(v.capacity) != len(self.dimensions):
                raise ValueError(f"vehicle {v.id}: one capacity per dimension {self.dimensions}")
            for loc in (v.start_location, v.end_location):
                if not 0 <= loc < n:
                    raise ValueError(f"vehicle {v.id}: location {loc} outside the matrix")

    def setup(self, location: int) -> int:
        return int(self.setup_s[location]) if self.setup_s else 0

    def demand(self, stop: Stop) -> tuple[int, ...]:
        """The stop's demand padded to every dimension."""
        return tuple(stop.demand) + (0,) * (len(self.dimensions) - len(stop.demand))


@dataclass(frozen=True)
class Visit:
    stop_id: str
    location: int
    arrival: int  # when the vehicle gets there
    start: int  # when service starts: arrival + setup (if it came from elsewhere) + waiting for the window
    departure: int  # start + service
    load: tuple[int, ...]  # on board after the visit, per dimension


@dataclass(frozen=True)
class BreakTaken:
    start: int
    duration_s: int


@dataclass(frozen=True)
class SecondCall:
    """A later call at a shop the van already called at in the same round, kept because folding it into
    the first call broke a rule: ``rule`` is the ``ScheduleError`` rule ("window", "capacity", "break",
    "shift", "order"), or "longer" when the folded route passed but was longer by ``extra`` (cost
    units); ``blocking_stop_id`` is the stop where the folded route first failed, when there was one."""

    stop_id: str            # the first leg of the later call
    first_stop_id: str      # the first leg of the earlier call at the same shop
    rule: str
    blocking_stop_id: str | None = None
    extra: int = 0


@dataclass(frozen=True)
class Route:
    vehicle_id: str
    visits: tuple[Visit, ...]
    start_time: int  # leaves the start location
    end_time: int  # back at the end location
    distance: int  # sum of arc costs (the ``cost`` matrix unit)
    travel_s: int
    load_at_start: tuple[int, ...]  # loaded at the depot before leaving
    breaks: tuple[BreakTaken, ...] = ()
    # Calls at a shop the van already called at in the same round, each with why it stayed (the
    # route sheet says it to the driver); filled by ``delivery.solver.whole``.
    second_calls: tuple[SecondCall, ...] = ()

    @property
    def duration_s(self) -> int:
        return self.end_time - self.start_time


# Why a stop came back unserved. "window_unreachable": no vehicle can reach it inside its window and
# still get home; "shift_too_short": the window is reachable but no shift covers it; "capacity": its
# demand exceeds every vehicle; "vehicle_not_allowed": its vehicles list names no usable vehicle;
# "pair_infeasible": its pickup and delivery cannot be chained in time; "fleet_capacity" / "fleet_time":
# each stop fits on its own but the fleet ran out of room / hours (the solver chose to drop it);
# "shop_hours" / "door_window": the stop is served once the shops' pickup hours / the residents'
# windows are eased (found by ``delivery.advice``, which also confirms the two "fleet_" reasons).
UnassignedReason = Literal[
    "window_unreachable",
    "shift_too_short",
    "capacity",
    "vehicle_not_allowed",
    "pair_infeasible",
    "fleet_capacity",
    "fleet_time",
    "shop_hours",
    "door_window",
]


@dataclass(frozen=True)
class Unassigned:
    stop_id: str
    reason: UnassignedReason


@dataclass(frozen=True)
class SolverStats:
    engine: str  # "ortools" or "pyvrp" (the portfolio member whose plan won)
    strategy: str
    seconds: float
    status: str
    candidates: tuple[tuple[str, int], ...] = ()  # (engine/strategy, objective) of every member run


@dataclass(frozen=True)
class RoutePlan:
    routes: tuple[Route, ...]  # only vehicles that are used
    unassigned: tuple[Unassigned, ...]
    objective: int  # arc costs + fixed costs + penalties of unserved stops
    stats: SolverStats = field(default_factory=lambda: SolverStats("none", "none", 0.0, "empty"))

    @property
    def distance(self) -> int:
        return sum(r.distance for r in self.routes)
