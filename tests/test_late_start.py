from __future__ import annotations

from delivery.late_start import leave_late
from delivery.problem import RoutingProblem, Stop, TimeWindow, Vehicle
from delivery.routing import solve


def _problem() -> RoutingProblem:
    # depot 0, shop 1, resident 2; ten minutes between any two places; the door opens at 13:00
    travel = ((0, 600, 600), (600, 0, 600), (600, 600, 0))
    van = Vehicle("v1", 0, 0, TimeWindow(8 * 3600 + 1800, 17 * 3600), (10,))
    stops = (Stop("p1", 1, kind="pickup", window=TimeWindow(8 * 3600, 15 * 3600), service_s=60, demand=(1,)),
             Stop("d1", 2, window=TimeWindow(13 * 3600, 17 * 3600), service_s=120, demand=(1,), pickup="p1"))
    return RoutingProblem((van,), stops, travel, travel)


def test_the_van_leaves_late_enough_to_pick_up_just_before_the_door() -> None:
    problem = _problem()
    plan = solve(problem, time_limit_s=1, engines=("ortools",))
    late = leave_late(problem, plan)
    (before,), (after,) = plan.routes, late.routes
    assert [v.stop_id for v in after.visits] == [v.stop_id for v in before.visits]
    assert after.end_time <= before.end_time
    door = after.visits[-1]
    assert door.start == 13 * 3600                      # still at the door when it opens
    pickup = after.visits[0]
    assert door.arrival - pickup.departure <= 600 + 60  # the goods ride about ten minutes, not hours
    assert after.start_time > before.start_time + 3 * 3600
