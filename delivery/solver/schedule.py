"""Turn an ordered list of stops per vehicle into a timed, loaded route, whichever engine produced it.

The schedule is "as early as possible" after a departure chosen so the driver does not wait at the
first stop; it is checked here (windows, shift, capacity, pairing) so that no engine's plan reaches a
caller unverified.
"""

from __future__ import annotations

from delivery.problem import BreakTaken, Route, RoutingProblem, Stop, Vehicle, Visit


class ScheduleError(ValueError):
    """A route breaks a rule; ``stop_id`` names the stop where it first did, when there is one (the
    repair in ``delivery.solver.whole`` takes that stop's group out and tries again). ``rule`` says which
    rule, for a reason a person can read (why a van calls at a shop twice, ``delivery/second_calls.py``):
    "window" (a stop starts after its window ends), "capacity", "break", "shift" or "order"."""

    def __init__(self, message: str, stop_id: str | None = None, rule: str = "order") -> None:
        super().__init__(message)
        self.stop_id = stop_id
        self.rule = rule


def schedule_route(
    problem: RoutingProblem,
    vehicle: Vehicle,
    stops: list[Stop],
    break_starts: list[int] | None = None,
) -> Route:
    t, c = _Ints(problem.travel_s), _Ints(problem.cost)
    dims = len(problem.dimensions)
    # goods from the depot (deliveries without a pickup) are loaded before leaving
    load = [0] * dims
    for s in stops:
        if s.kind == "delivery" and s.pickup is None:
            load = [a + b for a, b in zip(load, problem.demand(s))]
    load_at_start = tuple(load)
    if any(a > cap for a, cap in zip(load, vehicle.capacity)):
        raise ScheduleError(f"{vehicle.id}: depot load {load} exceeds capacity {vehicle.capacity}", rule="capacity")

    planned = break_starts or [b.window.start for b in vehicle.breaks]
    pending_breaks = sorted(
        (max(p, b.window.start), b.duration_s, b.window.end) for p, b in zip(planned, vehicle.breaks)
    )
    here = vehicle.start_location
    first = stops[0] if stops else None
    now = vehicle.shift.start
    if first is not None and first.window is not None and not pending_breaks:
        lead = t[here][first.location] + (problem.setup(first.location) if first.location != here else 0)
        now = max(now, first.window.start - lead)  # leave late rather than wait at the door
    start_time = now
    visits: list[Visit] = []
    taken: list[BreakTaken] = []
    distance = travel = 0
    picked: set[str] = set()
    for s in stops:
        try:
            return_visit = _visit(problem, vehicle, s, here, now, pending_breaks, taken, load, picked)
        except ScheduleError as error:
            raise ScheduleError(str(error), error.stop_id or s.id, error.rule) from None
        visit, load = return_visit
        distance += c[here][s.location]
        travel += t[here][s.location]
        now = visit.departure
        visits.append(visit)
        here = s.location
    now = _take_breaks(pending_breaks, taken, now, t[here][vehicle.end_location])
    distance += c[here][vehicle.end_location]
    travel += t[here][vehicle.end_location]
    end_time = now + t[here][vehicle.end_location]
    for b_start, dur, latest in pending_breaks:
        # a break that was not needed before the last stop is taken back at the depot
        at = max(end_time, b_start)
        if at > latest:
            raise ScheduleError(f"break starts at {at}, after its window ends {latest}", rule="break")
        taken.append(BreakTaken(at, dur))
        end_time = at + dur
    if end_time > vehicle.shift.end:
        raise ScheduleError(f"{vehicle.id}: back at {end_time}, after the shift ends {vehicle.shift.end}",
                            rule="shift")
    if len(picked) != sum(1 for s in stops if s.kind == "pickup"):
        raise ScheduleError(f"{vehicle.id}: a pickup appears twice")
    delivered = {s.pickup for s in stops if s.pickup is not None}
    if delivered != picked:
        raise ScheduleError(f"{vehicle.id}: a pickup and its delivery are on different vehicles")
    return Route(
        vehicle_id=vehicle.id,
        visits=tuple(visits),
        start_time=start_time,
        end_time=end_time,
        distance=distance,
        travel_s=travel,
        load_at_start=load_at_start,
        breaks=tuple(taken),
    )


def _visit(problem: RoutingProblem, vehicle: Vehicle, s: Stop, here: int, now: int,
           pending_breaks: list[tuple[int, int, int]], taken: list[BreakTaken], load: list[int],
           picked: set[str]) -> tuple[Visit, list[int]]:
    """Drive from ``here`` (free at ``now``) to ``s`` and serve it: the visit and the load after it."""
    leg = int(problem.travel_s[here][s.location])
    now = _take_breaks(pending_breaks, taken, now, leg)
    arrival = now + leg
    ready = arrival + (problem.setup(s.location) if s.location != here else 0)
    lo = s.window.start if s.window else vehicle.shift.start
    hi = s.window.end if s.window else vehicle.shift.end
    start = max(ready, lo)
    while pending_breaks and pending_breaks[0][0] < start:
        # the break falls while waiting for the window to open: take it at the door
        b_start, dur, latest = pending_breaks.pop(0)
        at = max(ready, b_start)
        if at > latest:
            raise ScheduleError(f"break starts at {at}, after its window ends {latest}", rule="break")
        taken.append(BreakTaken(at, dur))
        start = max(start, at + dur)
    if start > hi:
        raise ScheduleError(f"{vehicle.id}: stop {s.id} starts {start} after its window ends {hi}",
                            rule="window" if s.window else "shift")
    d = problem.demand(s)
    if s.kind == "pickup":
        load = [a + b for a, b in zip(load, d)]
        picked.add(s.id)
    else:
        if s.pickup is not None and s.pickup not in picked:
            raise ScheduleError(f"{vehicle.id}: delivery {s.id} before its pickup {s.pickup}")
        load = [a - b for a, b in zip(load, d)]
    if any(a > cap for a, cap in zip(load, vehicle.capacity)) or any(a < 0 for a in load):
        raise ScheduleError(f"{vehicle.id}: load {load} out of bounds after {s.id}", rule="capacity")
    return Visit(s.id, s.location, arrival, start, start + s.service_s, tuple(load)), load


def _take_breaks(pending: list[tuple[int, int, int]], taken: list[BreakTaken], now: int, leg: int) -> int:
    """Breaks whose planned start falls before the next arrival are taken on the way, where the driver
    is at that moment: the leg then ends later by the breaks' durations. This is the solver's own
    model (a break may sit anywhere in a transit, never inside a service), so a plan the solver
    returns replays to the same times. Returns the departure time shifted by those durations."""
    delay = 0
    while pending and pending[0][0] < now + delay + leg:
        b_start, dur, latest = pending.pop(0)
        start = max(now + delay, b_start)
        if start > latest:
            raise ScheduleError(f"break starts at {start}, after its window ends {latest}", rule="break")
        taken.append(BreakTaken(start, dur))
        delay += dur  # mid-drive or at the start of the leg: the arrival moves by the break alone
    return now + delay


class _Ints:
    """Row-then-column access that always yields Python ints, whatever the matrix type (numpy
    scalars would otherwise leak into the plan)."""

    def __init__(self, m: object) -> None:
        self._m = m

    def __getitem__(self, a: int) -> "_Row":
        return _Row(self._m[a])  # type: ignore[index]


class _Row:
    def __init__(self, row: object) -> None:
        self._row = row

    def __getitem__(self, b: int) -> int:
        return int(self._row[b])  # type: ignore[index]
