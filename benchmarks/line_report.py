"""The ``make bench-line`` report: the table, what the run met, the CPU budget it implies, and the
``## LINE webhook`` section of docs/benchmarks.md — computed from the run's figures only."""

from __future__ import annotations

import os
import platform
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from benchmarks.line import Result

ROOT = Path(__file__).resolve().parent.parent


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _met(r: Result) -> bool:
    return r.p99_ms < 200 and r.rate >= 200 and not (r.lost or r.doubled or r.non_200)


def table(results: list[Result], senders: int, workers: int, threads: int) -> str:
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"{senders} concurrent senders, gunicorn {workers} workers × {threads} threads (gthread), "
             f"{os.cpu_count()} CPUs ({_cpu_model()}), Python {platform.python_version()}, run finished {when}.", "",
             "| database | events | seconds | events/s | p50 ms | p99 ms | max ms | CPU ms/event: web | "
             "load generator | fake LINE | PostgreSQL | load avg | non-200 | lost | doubled |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        name = r.backend + (" ✔ target" if _met(r) else "")
        pg = "–" if r.pg_ms is None else f"{r.pg_ms:.1f}"
        lines.append(f"| {name} | {r.events} | {r.seconds:.1f} | {r.rate:.0f} | {r.p50_ms:.1f} | "
                     f"{r.p99_ms:.1f} | {r.max_ms:.1f} | {r.cpu_ms:.1f} | {r.loadgen_ms:.1f} | {r.fake_ms:.1f} | {pg} | "
                     f"{r.load} | {r.non_200} | {r.lost} | {r.doubled} |")
    return "\n".join(lines)


def reading(results: list[Result]) -> str:
    """The CPU budget, computed from this run's columns (nothing carried over from earlier runs)."""
    if not results:
        return ""
    parts = []
    for backend in dict.fromkeys(r.backend.split(" ")[0] for r in results):
        mine = [r for r in results if r.backend.startswith(backend)]
        totals = [r.cpu_ms + r.loadgen_ms + r.fake_ms + (r.pg_ms or 0.0) for r in mine]
        webs = [r.cpu_ms for r in mine]
        cpus = os.cpu_count() or 1
        parts.append(f"{backend}: web {min(webs):.1f}–{max(webs):.1f} ms, all of them {min(totals):.1f}–{max(totals):.1f} ms, "
                     f"so {cpus} CPUs ÷ that ≈ {1000 * cpus / max(totals):.0f}–{1000 * cpus / min(totals):.0f} events/s "
                     f"if these processes had the machine to themselves")
    return ("CPU per event in this run, the bench's processes added up — " + "; ".join(parts) + ". "
            "The load average column is the whole machine: other work on the CPUs during the run shows in "
            "every figure, the wall-clock ones (events/s, latency) most.")


def summary(results: list[Result]) -> str:
    """What this run met, stated from the numbers (not from expectations)."""
    fast = [r.backend for r in results if r.p99_ms < 200]
    busy = [r.backend for r in results if r.rate >= 200]
    both = [r.backend for r in results if _met(r)]
    clean = all(not (r.lost or r.doubled or r.non_200) for r in results)
    return (f"This run: p99 < 200 ms in {', '.join(fast) or 'no run'}; ≥ 200 events/s in "
            f"{', '.join(busy) or 'no run'}; both at once (the target) in {', '.join(both) or 'no run'}; "
            f"{'no event lost or doubled, no non-200' if clean else 'SEE lost/doubled/non-200 columns'}.")


def write_section(text: str, results: list[Result], path: Path = ROOT / "docs" / "benchmarks.md") -> None:
    """Replace (or append) only the ``## LINE webhook`` section; other sections are left as they are."""
    section = ("## LINE webhook\n\n`make bench-line` (`python -m benchmarks.line`): signed text-order events "
               "(「大根2本とりんご1個」) from 400 residents, against gunicorn with the fake LINE API in its own "
               "process. Each event: signature check; the event id claimed with one INSERT … ON CONFLICT DO "
               "NOTHING; the conversation row read FOR UPDATE and written back; the typed text matched against "
               "the catalogue's words (cached per process for 10 s; the matched products are re-read fresh); a "
               "quote (resident, district, products read in the transaction); the Flex confirmation built as "
               "wire JSON; after commit, one reply to the fake on the per-process reply pool. Target: p99 < 200 "
               "ms and ≥ 200 events/s, none lost or doubled. *Closed loop*: 50 senders each post as soon as "
               "their previous answer is back (maximum throughput; by Little's law latency ≈ 50 / throughput). "
               "*Paced N/s*: the 50 senders together post N events/s on a schedule, each event made (and "
               "time-stamped) when it is sent, and latency counts from the scheduled time, so a backlog shows. "
               "*seconds* runs from the first send until the last answer and the last reply reached the fake, "
               "whichever is later; *events/s* = events / seconds. *lost* = events whose id was not recorded or "
               "got no reply; *doubled* = extra records or replies. *CPU ms/event* per process group, from "
               "/proc: the gunicorn master and workers, the load generator (this process), the fake LINE API, "
               "and the PostgreSQL backends connected to the bench database (shared background processes such "
               "as the WAL writer not counted).\n\n"
               + text + "\n\n" + reading(results) + "\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    current = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    pattern = re.compile(r"^## LINE webhook\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(current):
        updated = pattern.sub(lambda _m: section + "\n", current, count=1)
    else:
        updated = current.rstrip("\n") + "\n\n" + section
    path.write_text(updated.rstrip("\n") + "\n", encoding="utf-8")
