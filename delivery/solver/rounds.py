"""OR-Tools on a day with same-vehicle groups: search, make every group whole, search again from there.

The model prices a split group (``ortools_engine`` step 6b) but its local search mends few splits
by itself, and a group it leaves out cannot come back one pair at a time. So the budget is spent in
rounds: each round's routes are made whole (``delivery.solver.whole``: split, half-served or
door-twice groups re-inserted as one block) and the next round starts from them, where every move is
measured against routes that already keep every group together. Measured on the demo day in
docs/benchmarks.md ("The pilot's day").
"""

from __future__ import annotations

import time

from delivery.solver.nodes import Nodes
from delivery.solver.ortools_engine import EngineResult, solve_ortools
from delivery.solver.whole import make_whole

ROUNDS = 2
# Above this many nodes the first solution alone can take most of a 10 s budget (measured: 792 nodes,
# 8 s on a loaded machine): one round, made whole once, rather than a round that finds nothing.
ONE_ROUND_ABOVE = 500


def solve_in_rounds(nodes: Nodes, *, time_limit_s: float, solution_limit: int | None,
                    strategy: str | None = None, initial_routes: list[list[int]] | None = None,
                    hopeless: tuple[str, ...] = ()) -> EngineResult | None:
    began = time.monotonic()
    deadline = began + time_limit_s
    best: EngineResult | None = None
    start = initial_routes
    rounds = 1 if nodes.n > ONE_ROUND_ABOVE else ROUNDS
    for k in range(rounds):
        left = deadline - time.monotonic()
        if left <= 0.1:
            break
        result = solve_ortools(nodes, time_limit_s=left / (rounds - k), solution_limit=solution_limit,
                               strategy=strategy if start is None else None, initial_routes=start)
        if result is None:
            break
        stops = [[nodes.stops[n] for n in route] for route in result.routes]
        routes, _ = make_whole(nodes.problem, stops, result.break_starts, hopeless=hopeless)
        start = [[nodes.index_of[v.stop_id] for v in r.visits] if r is not None else [] for r in routes]
        best = EngineResult(tuple(tuple(r) for r in start),
                            tuple(tuple(b.start for b in r.breaks) if r is not None else () for r in routes),
                            result.status, best.strategy if best else result.strategy,
                            time.monotonic() - began)
    return best


def search(nodes: Nodes, *, time_limit_s: float, solution_limit: int | None, strategy: str | None = None,
           initial_routes: list[list[int]] | None = None, hopeless: tuple[str, ...] = ()) -> EngineResult | None:
    """One OR-Tools member, in either process: in rounds on a day with groups, else one search."""
    if any(s.group is not None for s in nodes.stops):
        return solve_in_rounds(nodes, time_limit_s=time_limit_s, solution_limit=solution_limit, strategy=strategy,
                               initial_routes=initial_routes, hopeless=hopeless)
    return solve_ortools(nodes, time_limit_s=time_limit_s, solution_limit=solution_limit, strategy=strategy,
                         initial_routes=initial_routes)
