"""How long one planning run may take, and so when a run still 'planning' is plainly dead (issue #12).

``planning_seconds`` is the solver limit ``plan_day`` gives a day; ``stale_after`` is how long a plan
request may stay 'planning' before ``delivery.plan_requests`` treats its worker as dead. Both follow
``PLANNING_TIME_LIMIT_S``, so a short limit does not leave a dead request on 計画中 for half an hour and a
long one (a big day) is not failed while its solver is still working. Pure functions, no DB.
"""

from __future__ import annotations

from datetime import timedelta

ORDERS_PER_LIMIT = 120
# A live run is done well within this many times its solver limit: the solver stops at its limit, and
# a loaded machine (the 2-core box, a busy worker) only stretches the time around it.
STALE_SOLVES = 3
# Reading the day, building the problem (the distance matrix: a call to ROUTING_URL when set) and
# storing the plan with its outbox messages, none of which the solver limit covers.
STALE_MARGIN = timedelta(seconds=60)
# Never less: a short limit (1 s in tests and demos) must not fail a run that is merely queued behind
# a slow database or a cold distance cache.
STALE_FLOOR = timedelta(minutes=3)


def planning_seconds(configured: float, orders: int) -> float:
    """The configured limit is for a day of up to ``ORDERS_PER_LIMIT`` orders (the pilot's); a bigger
    day gets proportionally more, as its first solution alone takes longer (bench-day: 480 orders on
    20 vans found none within 17 s on a loaded machine, and were all left out)."""
    return configured * max(1.0, orders / ORDERS_PER_LIMIT)


def stale_after(day_limit_s: float) -> timedelta:
    """How long a request for a day whose solver limit is ``day_limit_s`` may stay 'planning':
    ``STALE_SOLVES`` × the limit + ``STALE_MARGIN``, at least ``STALE_FLOOR`` (the default 10 s limit
    gives the floor, 3 minutes; a 480-order day at 10 s per 120 orders, 40 s, gives 3 minutes too; a
    60 s limit gives 4 minutes)."""
    return max(STALE_FLOOR, STALE_SOLVES * timedelta(seconds=day_limit_s) + STALE_MARGIN)
