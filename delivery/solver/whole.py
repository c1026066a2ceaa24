"""Makes an engine's routes keep every group whole, and checks them: the last step before a plan leaves.

The model prices a group split over several vehicles (see ``ortools_engine``) but an engine may still
return one split, half served, visiting its door twice, or (should an engine's time model ever differ
from ``schedule_route``) a route that fails the check. None of these is thrown away with the plan:

1. a route that fails the check loses the group of the stop where it failed, until it passes;
2. a group that is split, partly served or not together at its door is taken out and inserted whole
   (door legs one after another, pickups at a shop the vehicle already calls at where possible) into
   the vehicle that carried most of it, else any vehicle where it fits;
3. groups the engine left out are tried the same way, when that costs less than their penalty;
4. a second call at a shop in the same half of the day is folded into the first where it can be
   and the extra driving is no more than the second call costs (the driver's parking and the shop's
   interruption: ``SECOND_CALL_COST``).

Whatever still does not fit comes back unserved. Pure: no solver, no database.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

from delivery.problem import Route, RoutingProblem, SecondCall, Stop, Vehicle
from delivery.solver.nodes import big_penalty
from delivery.solver.schedule import ScheduleError, schedule_route

Routes = list[list[Stop]]
TRIED_DOOR_POSITIONS = 12  # cheapest door positions tried per vehicle before giving up on it
# A fold may make the route this much longer: a call saved is a stop, parking and walking in (on the
# pilot's 240-order day a fold that removed a second call lengthened its route by 1 m in 35 km)
FOLD_SLACK = 0.005
# What a second call at a shop costs, in seconds of driving a fold may add instead, per second of the
# shop's parking (``setup_s``): the driver parks and walks in again (1×), and the shop stops serving at
# its counter to find and hand over the rest of the goods, about as long again (1×). With the product's
# 3-minute parking a fold may add up to 6 minutes of driving (about 3 km at the demo matrix's 8.3 m/s;
# a van drives 30-45 km a day). On the pilot's 240-order Wednesday (seed 1) the one call that stays would
# cost 10.2 km more on a 34 km route (the only fold that passes moves the first call down with its
# doors): calling twice is the better plan there, and the sheet says so.
SECOND_CALL_COST = 2
MEND_SPAN = 8  # places a late call may move up to mend a fold (8 checks of one route, a few ms)


def group_key(stop: Stop) -> str:
    """A stop without a group is its own group with its pickup (or delivery) partner."""
    if stop.group is not None:
        return stop.group
    return f"pair:{stop.pickup or stop.id}" if stop.kind == "delivery" else f"pair:{stop.id}"


def make_whole(problem: RoutingProblem, routes: Sequence[Sequence[Stop]],
               break_starts: Sequence[Sequence[int]] = (), *, deadline: float | None = None,
               hopeless: Sequence[str] = ()) -> tuple[list[Route | None], set[str]]:
    """Scheduled routes (one per vehicle, None when unused) with every group whole and checked, and
    the ids of the stops left unserved (``hopeless`` stops are never tried)."""
    members: dict[str, list[Stop]] = {}
    for s in problem.stops:
        if s.id not in hopeless:
            members.setdefault(group_key(s), []).append(s)
    work: Routes = [list(r) for r in routes] + [[] for _ in range(len(problem.vehicles) - len(routes))]
    starts = [list(b) for b in break_starts] + [[] for _ in range(len(work) - len(break_starts))]

    broken = _broken_groups(work, members, tuple(v.id for v in problem.vehicles))
    carried = {g: _majority(work, g) for g in broken}
    for g in broken:
        _remove(work, g)
    scheduled: list[Route | None] = [None] * len(work)
    for k, vehicle in enumerate(problem.vehicles):
        scheduled[k] = _check_or_trim(problem, vehicle, work[k], starts[k] if k < len(starts) else None)

    served = {v.stop_id for r in scheduled if r is not None for v in r.visits}
    waiting = sorted({group_key(s) for s in problem.stops if s.id not in served and s.id not in hopeless},
                     key=lambda g: (g not in carried, _latest_end(members[g])))
    big = big_penalty(problem)
    for g in waiting:
        if deadline is not None and time.monotonic() > deadline:
            break
        worth = sum(big if s.penalty is None else s.penalty for s in members[g])
        _insert_whole(problem, scheduled, work, members[g], carried.get(g), worth)
    # folds are not bound by the deadline: each is one check of one route (a few ms on a 480-order day)
    # and a second call at a shop costs the driver a stop
    for k, vehicle in enumerate(problem.vehicles):
        if scheduled[k] is not None:
            work[k], scheduled[k] = _one_call_per_shop(problem, vehicle, work[k], scheduled[k])
    served = {v.stop_id for r in scheduled if r is not None for v in r.visits}
    unserved = {s.id for s in problem.stops if s.id not in served}
    return scheduled, unserved


def _one_call_per_shop(problem: RoutingProblem, vehicle: Vehicle, route: list[Stop],
                       checked: Route) -> tuple[list[Stop], Route]:
    """Within one half of the day, fold a second call at a shop into the first (``_folds``: the later
    pickup up to the earlier call, or the earlier call down to the later one, alone or with the doors
    its goods go to); kept when the route still passes the check and ``_fold_pays``. The halves are split at the driver's break (the morning round, then
    the afternoon round, each collecting its own goods: on the demo day a fold across the break fails
    on the cold box's room or a morning door's window). A call that stays was needed by a window or
    the van's room."""
    changed = True
    while changed:
        changed = False
        # fold across the whole morning (or afternoon): a van that emptied and came back to the same
        # shop made a second trip it may not have needed
        trips = trip_numbers(checked, at_empty=False)
        first_call: dict[tuple[int, int], int] = {}
        for i, (stop, trip) in enumerate(zip(route, trips)):
            if stop.kind == "pickup":
                key = (trip, stop.location)
                j = first_call.get(key)
                if j is not None and route[i - 1].location != stop.location:
                    for fold in _folds(route, i, j):
                        try:
                            moved, candidate = _schedule_or_mend(problem, vehicle, fold, j)
                        except ScheduleError:
                            continue
                        if _progress(route, fold, moved) and _fold_pays(problem, checked, candidate, stop.location):
                            route, checked, changed = moved, candidate, True
                            break
                    if changed:
                        break
                first_call.setdefault(key, i)
    return route, replace(checked, second_calls=_why_second_calls(problem, vehicle, route, checked))


def _fold_pays(problem: RoutingProblem, checked: Route, folded: Route, shop: int) -> bool:
    """A fold is kept when the route gets at most ``FOLD_SLACK`` longer, or when the extra driving takes
    no longer than what the second call costs (``SECOND_CALL_COST`` times the shop's parking: the
    driver's parking and walking in, and the shop's counter interrupted again)."""
    if folded.distance <= checked.distance * (1 + FOLD_SLACK):
        return True
    return folded.travel_s - checked.travel_s <= SECOND_CALL_COST * problem.setup(shop)


def _why_second_calls(problem: RoutingProblem, vehicle: Vehicle, route: list[Stop],
                      checked: Route) -> tuple[SecondCall, ...]:
    """For each call that stayed a second call at its shop in its round, why folding it failed: the
    rule the earlier-call fold broke (moving the goods up is what a driver would ask about first), or
    the later-call fold's when only that one was tried further, or "longer"."""
    trips = trip_numbers(checked, at_empty=False)
    first_call: dict[tuple[int, int], int] = {}
    found: list[SecondCall] = []
    for i, (stop, trip) in enumerate(zip(route, trips)):
        if stop.kind != "pickup":
            continue
        key = (trip, stop.location)
        j = first_call.setdefault(key, i)
        if j == i or route[i - 1].location == stop.location:
            continue
        reasons: list[SecondCall] = []
        longer: list[SecondCall] = []
        for moved in _folds(route, i, j):
            try:
                mended, candidate = _schedule_or_mend(problem, vehicle, moved, j)
            except ScheduleError as error:
                reasons.append(SecondCall(stop.id, route[j].id, error.rule, error.stop_id))
                continue
            if _progress(route, moved, mended):
                longer.append(SecondCall(stop.id, route[j].id, "longer",
                                         extra=candidate.distance - checked.distance))
        # a fold that passes the check but drives further is the true reason, not another fold's window
        if longer or reasons:
            found.append(min(longer, key=lambda r: r.extra) if longer
                         else next((r for r in reasons if r.rule != "order"), reasons[0]))
    return tuple(found)


def _schedule_or_mend(problem: RoutingProblem, vehicle: Vehicle, moved: list[Stop],
                      first: int) -> tuple[list[Stop], Route]:
    """``moved`` scheduled; when it fails because a place is reached after its window (collecting more
    at the first call made the van late for a shop that closes at 13:00), the call or door that was
    late is moved up, one place at a time (up to ``MEND_SPAN`` places, no further up than the first call at
    ``first``), and the shortest route that passes is returned. Raises the first failure otherwise.

    On the pilot's Friday this turned a second call kept "for a window" into a fold 104 m longer."""
    try:
        return moved, schedule_route(problem, vehicle, moved)
    except ScheduleError as error:
        if error.rule != "window":
            raise error
        late = next((k for k, s in enumerate(moved) if s.id == error.stop_id), None)
        if late is None:
            raise error
        a, b = _call_at(moved, late)
        block, rest = moved[a:b], moved[:a] + moved[b:]
        best: tuple[list[Stop], Route] | None = None
        for at in range(a - 1, max(first, a - MEND_SPAN) - 1, -1):
            candidate = rest[:at] + block + rest[at:]
            if _calls(candidate) > _calls(moved):
                continue   # moved into the middle of a call: that undoes the fold
            try:
                checked = schedule_route(problem, vehicle, candidate)
            except ScheduleError:
                continue
            if best is None or checked.distance < best[1].distance:
                best = (candidate, checked)
        if best is None:
            raise error
        return best


def _progress(route: list[Stop], fold: list[Stop], moved: list[Stop]) -> bool:
    """Whether ``moved`` (``fold``, mended or not) is a step towards one call per shop. A plain fold
    moves one pickup of a call at a time (the call's next pickup follows on the next pass), so it may
    leave the count of calls as it was; a mended one moved a call up and must make fewer, or two
    mends could undo each other for ever."""
    return _calls(moved) < _calls(route) or (moved is fold and _calls(moved) <= _calls(route))


def _calls(route: list[Stop]) -> int:
    """How many calls at shops the van makes (legs one after another at a shop are one call)."""
    return sum(1 for k, s in enumerate(route) if s.kind == "pickup" and (k == 0 or route[k - 1].location != s.location))


def _call_at(route: list[Stop], k: int) -> tuple[int, int]:
    """The run of stops at the same place as ``route[k]`` (one call at a shop, or one door), as a slice."""
    a, b = k, k + 1
    while a > 0 and route[a - 1].location == route[k].location:
        a -= 1
    while b < len(route) and route[b].location == route[k].location:
        b += 1
    return a, b


def _folds(route: list[Stop], i: int, j: int) -> tuple[list[Stop], ...]:
    """The ways tried to fold the call at ``i`` into the earlier call at the same shop at ``j``, in
    the order tried: the whole later call up (when it has several pickups), its first pickup up, the
    earlier call down, the earlier call down with its doors."""
    one = _pull_up(route, i, j)
    whole_call = _pull_up_call(route, i, j)
    ups = (whole_call, one) if whole_call != one else (one,)
    return *ups, _push_down(route, j, i), _push_down_with_doors(route, j, i)


def _pull_up_call(route: list[Stop], i: int, j: int) -> list[Stop]:
    """``route`` with every pickup of the later call starting at ``i`` moved into the earlier call at
    ``j`` at once. Moving them one at a time leaves as many calls after each step, so a step that
    needs a mend (collecting more first makes another shop late) is refused as no progress: on the
    pilot's Friday (seed 1) a two-pickup second call stayed, shown as 12.4 km longer, where calling
    once drove about 1 km more."""
    a, b = _call_at(route, i)
    block = [s for s in route[i:b] if s.kind == "pickup"]
    if len(block) != b - i:
        return _pull_up(route, i, j)
    rest = route[:i] + route[b:]
    at = j + 1
    while at < len(rest) and rest[at].location == route[i].location:
        at += 1
    return rest[:at] + block + rest[at:]


def _pull_up(route: list[Stop], i: int, j: int) -> list[Stop]:
    """``route`` with the pickup at ``i`` moved into the earlier call at the same shop starting at ``j``."""
    moved = route[:i] + route[i + 1:]
    at = j + 1
    while at < len(moved) and moved[at].location == route[i].location:
        at += 1
    moved.insert(at, route[i])
    return moved


def _push_down(route: list[Stop], j: int, i: int) -> list[Stop]:
    """``route`` with the whole earlier call (the run of stops at the shop from ``j``) moved into the
    later call at ``i``: the van then collects everything on its second pass (a door served in between
    whose goods come from that call makes the check fail, and the route is kept as it was)."""
    end = j
    while end < i and route[end].location == route[j].location:
        end += 1
    block = route[j:end]
    rest = route[:j] + route[end:i] + block + route[i:]
    return rest


def _push_down_with_doors(route: list[Stop], j: int, i: int) -> list[Stop]:
    """``_push_down``, taking along the doors served between the two calls whose goods the earlier call
    collected: each such door (all its legs, still one after another) moves to just after the later
    call, in the order the van met them. Fixes what a plain push-down breaks (a door served before its
    goods are on board) and what a pull-up breaks (the van carrying the later call's goods all the way,
    out of room)."""
    end = j
    while end < i and route[end].location == route[j].location:
        end += 1
    block = route[j:end]
    collected = {s.id for s in block}
    doors = {s.location for s in route[end:i] if s.kind == "delivery" and s.pickup in collected}
    if not doors:
        return _push_down(route, j, i)
    between = route[end:i]
    staying = [s for s in between if not (s.kind == "delivery" and s.location in doors)]
    carried = [s for s in between if s.kind == "delivery" and s.location in doors]
    after = i
    while after < len(route) and route[after].location == route[i].location:
        after += 1
    return route[:j] + staying + block + route[i:after] + carried + route[after:]


def trip_numbers(route: Route, *, at_empty: bool = True) -> list[int]:
    """The trip of each visit: a new trip starts after each break and (``at_empty``) after the van
    is empty."""
    out, trip, breaks = [], 0, sorted(b.start for b in route.breaks)
    for visit in route.visits:
        while breaks and visit.start >= breaks[0]:
            breaks.pop(0)
            trip += 1
        out.append(trip)
        if at_empty and not any(visit.load):
            trip += 1
    return out


def _broken_groups(work: Routes, members: dict[str, list[Stop]], vehicle_ids: tuple[str, ...]) -> list[str]:
    """Groups on more than one vehicle, partly served, on a vehicle one of their stops may not ride (a
    door pinned by hand to another van: no engine's word is taken for it), or whose door legs are not
    one after another."""
    where: dict[str, Counter[int]] = {}
    misplaced: set[str] = set()
    for k, route in enumerate(work):
        for s in route:
            where.setdefault(group_key(s), Counter())[k] += 1
            if s.vehicles is not None and vehicle_ids[k] not in s.vehicles:
                misplaced.add(group_key(s))
    broken = []
    for g, vans in where.items():
        if len(vans) > 1 or sum(vans.values()) != len(members.get(g, ())) or g in misplaced:
            broken.append(g)
            continue
        (k,) = vans
        doors = [i for i, s in enumerate(work[k]) if group_key(s) == g and s.kind == "delivery"]
        if doors and doors[-1] - doors[0] != len(doors) - 1:
            broken.append(g)
    return sorted(broken)


def _majority(work: Routes, g: str) -> int | None:
    count = Counter(k for k, route in enumerate(work) for s in route if group_key(s) == g)
    return count.most_common(1)[0][0] if count else None


def _remove(work: Routes, g: str) -> None:
    for route in work:
        route[:] = [s for s in route if group_key(s) != g]


def _latest_end(stops: list[Stop]) -> int:
    ends = [s.window.end for s in stops if s.window is not None and s.kind == "delivery"]
    return min(ends) if ends else 10**9


def _check_or_trim(problem: RoutingProblem, vehicle: Vehicle, route: list[Stop],
                   starts: list[int] | None) -> Route | None:
    """Schedule ``route``; while it fails, take out the group of the stop where it failed."""
    while route:
        try:
            return schedule_route(problem, vehicle, route, starts or None)
        except ScheduleError as error:
            starts = None  # the engine's break times belonged to the route as it was
            culprit = next((s for s in route if s.id == error.stop_id), route[-1])
            g = group_key(culprit)
            route[:] = [s for s in route if group_key(s) != g]
    return None


def _insert_whole(problem: RoutingProblem, scheduled: list[Route | None], work: Routes,
                  group: list[Stop], preferred: int | None, worth: int) -> bool:
    """Insert ``group`` on the first vehicle where it fits for less than ``worth`` (its penalty:
    a stop the model may leave out at a lower cost than its detour stays out)."""
    order = sorted(range(len(problem.vehicles)), key=lambda k: (k != preferred, len(work[k])))
    allowed = [k for k in order if all(s.vehicles is None or problem.vehicles[k].id in s.vehicles for s in group)]
    for k in allowed:
        vehicle = problem.vehicles[k]
        found = _best_insertion(problem, vehicle, work[k], group)
        if found is None:
            continue
        before = scheduled[k]
        extra = found[1].distance - (before.distance if before is not None and before.visits else -vehicle.fixed_cost)
        if extra < worth:
            work[k], scheduled[k] = found
            return True
    return False


def _best_insertion(problem: RoutingProblem, vehicle: Vehicle, route: list[Stop],
                    group: list[Stop]) -> tuple[list[Stop], Route] | None:
    """The cheapest checked route with ``group`` added: its deliveries as one block at the door, each
    pickup where the vehicle already calls at that shop before the block, else at its cheapest place."""
    cost = problem.cost
    doors = [s for s in group if s.kind == "delivery"]
    pickups = [s for s in group if s.kind == "pickup"]
    if not doors:
        return None
    door = doors[0].location
    locs = [vehicle.start_location] + [s.location for s in route] + [vehicle.end_location]

    def door_delta(k: int) -> int:
        a, b = locs[k], locs[k + 1]
        return int(cost[a][door]) + int(cost[door][b]) - int(cost[a][b])

    best: tuple[int, list[Stop], Route] | None = None
    for k in sorted(range(len(route) + 1), key=door_delta)[:TRIED_DOOR_POSITIONS]:
        candidate = route[:k] + doors + route[k:]
        for p in pickups:
            block = candidate.index(doors[0])
            candidate.insert(_pickup_position(problem, vehicle, candidate, p, block), p)
        try:
            checked = schedule_route(problem, vehicle, candidate)
        except ScheduleError:
            continue
        if best is None or checked.distance < best[0]:
            best = (checked.distance, candidate, checked)
    return None if best is None else (best[1], best[2])


def _pickup_position(problem: RoutingProblem, vehicle: Vehicle, route: list[Stop], p: Stop, before: int) -> int:
    """Right after the last call at the same shop before ``before``; else the cheapest place."""
    same = [i for i in range(before) if route[i].location == p.location]
    if same:
        return same[-1] + 1
    cost = problem.cost
    locs = [vehicle.start_location] + [s.location for s in route]
    nxt = [s.location for s in route] + [vehicle.end_location]

    def delta(i: int) -> int:
        a, b = locs[i], nxt[i]
        return int(cost[a][p.location]) + int(cost[p.location][b]) - int(cost[a][b])

    return min(range(before + 1), key=delta)
