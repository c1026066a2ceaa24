"""The second search process of the portfolio: PyVRP, or OR-Tools with another first-solution strategy.

Started with "spawn" so nothing of the caller (database connections, threads) is inherited; it stops
itself at the deadline and hands back node routes through a pipe.
"""

from __future__ import annotations

import multiprocessing
import time
from multiprocessing.connection import Connection

from delivery.problem import RoutingProblem, Stop
from delivery.solver.nodes import build_nodes
from delivery.solver.ortools_engine import EngineResult
from delivery.solver.pyvrp_engine import run_pyvrp
from delivery.solver.rounds import search

# The member stops itself by the clock; leave room for the process start and the hand-back.
MARGIN_S = 0.8
GRACE_S = 1.5


class Pending:
    """A search running in its own process; ``result()`` waits for it (bounded by the deadline)."""

    def __init__(self, process: multiprocessing.process.BaseProcess, conn: Connection, deadline: float) -> None:
        self._process, self._conn, self._deadline = process, conn, deadline

    def result(self) -> EngineResult | None:
        try:
            # the child stops itself at the deadline; the grace covers handing the plan back
            if not self._conn.poll(max(0.0, self._deadline - time.time()) + GRACE_S):
                return None  # late: the caller's time limit wins over this member's plan
            out = self._conn.recv()
            return out if isinstance(out, EngineResult) else None
        except (EOFError, OSError):  # a crashed member must not sink the plan OR-Tools already has
            return None
        finally:
            self._conn.close()
            self._process.join(timeout=0.2)
            if self._process.is_alive():
                self._process.kill()
                self._process.join()


def start_member(
    member: str,
    problem: RoutingProblem,
    kept: tuple[Stop, ...],
    *,
    time_limit_s: float,
    solution_limit: int | None,
    seed: int,
    initial: list[list[int]] | None,
) -> Pending:
    # A bare Process with a Pipe, not a ProcessPoolExecutor: the pool feeds its worker from a thread
    # of ours, and that thread starves while OR-Tools holds the GIL in this process (measured: the
    # PyVRP search started only after OR-Tools had finished).
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    deadline = time.time() + time_limit_s - MARGIN_S
    process = ctx.Process(target=_child, args=(child, member, problem, kept, deadline, solution_limit, seed, initial), daemon=True)
    process.start()
    child.close()
    return Pending(process, parent, deadline)


def _child(
    conn: Connection,
    member: str,
    problem: RoutingProblem,
    kept: tuple[Stop, ...],
    deadline: float,
    solution_limit: int | None,
    seed: int,
    initial: list[list[int]] | None,
) -> None:
    try:
        if member == "pyvrp":

            outcome: object = run_pyvrp(problem, kept, deadline, solution_limit, seed, initial)
        else:  # "ortools:STRATEGY"
            nodes = build_nodes(problem, kept)
            strategy = member.split(":", 1)[1]
            outcome = search(nodes, time_limit_s=deadline - time.time(), solution_limit=solution_limit,
                             strategy=strategy)
    except Exception as exc:  # reported as "no plan" to the parent, which carries on with OR-Tools
        outcome = repr(exc)
    try:
        conn.send(outcome)
    except OSError:
        pass  # the parent stopped waiting (this member was late) and closed its end: nobody to tell
    finally:
        conn.close()


