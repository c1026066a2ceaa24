"""``make bench-load``, last step: reconcile the database with what the locustfile sent, print the table.

Reads ``sent.json`` (written by ``benchmarks/load.py`` at the end of the run), locust's CSV files
(``stats_stats.csv``, ``stats_failures.csv``) and the database; waits for the workers to drain the
outbox first, so a message still queued is not counted as lost, and until the order count holds still
(a request cut off at the end of the run may still be committing). Exit status 0 only when every request
succeeded (no failure of any kind, no exception in the locustfile) and everything reconciles; 1 otherwise.

    python -m benchmarks.load_check --db URL --dir DIR [--fake-line http://127.0.0.1:PORT]
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select

from benchmarks.load_reconcile import Reconciliation, reconcile
from core.config import normalise_database_url


def locust_figures(folder: Path) -> dict[str, Any]:
    """The Aggregated row of locust's stats CSV, the 5xx among its failures, and the locustfile's own
    exceptions (``stats_exceptions.csv``: a task that raised sent no request, so no failure shows it)."""
    with (folder / "stats_stats.csv").open(newline="") as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    total = rows["Aggregated"]
    five = 0
    other = 0
    failures = folder / "stats_failures.csv"
    if failures.exists():
        with failures.open(newline="") as handle:
            for row in csv.DictReader(handle):
                n = int(row["Occurrences"])
                if re.search(r"status 5\d\d", row["Error"]):
                    five += n
                else:
                    other += n
    exceptions = 0
    if (folder / "stats_exceptions.csv").exists():
        with (folder / "stats_exceptions.csv").open(newline="") as handle:
            exceptions = sum(int(row["Count"]) for row in csv.DictReader(handle))
    return {"requests": int(total["Request Count"]), "failures": int(total["Failure Count"]), "exceptions": exceptions,
            "rps": float(total["Requests/s"]), "p50": total["50%"], "p95": total["95%"], "p99": total["99%"],
            "max": total["Max Response Time"], "5xx": five, "other_failures": other,
            "per_name": {name: (row["Request Count"], row["99%"]) for name, row in rows.items() if name != "Aggregated"}}


def database_rows(url: str, district_code: str) -> tuple[list[str], list[str], list[tuple[str, str, str, Any]], int]:
    """(order refs, LINE event ids recorded, outbox rows, outbox rows still pending)."""
    from core.models import ProcessedEvent
    from orders.models import Order
    from outbox.models import OutboxMessage, OutboxStatus
    from places.models import District
    from residents.models import Resident
    engine = create_engine(normalise_database_url(url))
    with engine.connect() as conn:
        refs = [line or phone for line, phone in conn.execute(
            select(Resident.line_user_id, Resident.phone).join(Order, Order.resident_id == Resident.id)
            .join(District, District.id == Order.district_id).where(District.code == district_code))]
        recorded = list(conn.scalars(select(ProcessedEvent.event_id)))
        outbox = [tuple(row) for row in conn.execute(
            select(OutboxMessage.channel, OutboxMessage.recipient, OutboxMessage.kind, OutboxMessage.payload))]
        pending = conn.scalar(select(func.count()).select_from(OutboxMessage)
                              .where(OutboxMessage.status == OutboxStatus.PENDING)) or 0
    engine.dispose()
    return refs, recorded, outbox, int(pending)   # type: ignore[return-value]


def web_cpu_seconds(instance: Path) -> float:
    """CPU (user+system) so far of the topology's gunicorn masters and their workers, from /proc
    (``<state>/prod_local_web*.pid``, written by scripts/run_prod_local.sh in its PROD_LOCAL_DIR)."""
    from benchmarks.line import _cpu_seconds
    masters = [int(p.read_text().split()[0]) for p in instance.glob("prod_local_web*.pid") if p.read_text().strip()]
    return sum(_cpu_seconds(pid) for pid in masters)


def main() -> int:
    import sys
    if sys.argv[1:2] == ["cpu"]:     # scripts/bench_load.sh, before and after the run
        print(f"{web_cpu_seconds(Path(sys.argv[2])):.3f}")
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--fake-line", default="")
    parser.add_argument("--drain-s", type=float, default=60)
    parser.add_argument("--web-cpu", type=float, default=None, help="web CPU seconds spent during the run")
    args = parser.parse_args()
    folder = Path(args.dir)
    sent = json.loads((folder / "sent.json").read_text())
    figures = locust_figures(folder)
    deadline = time.time() + args.drain_s
    before: tuple[int, int] | None = None
    while True:     # the workers send what the run queued; count once the outbox and the orders are settled
        refs, recorded, outbox, pending = database_rows(args.db, "load")
        if (not pending and before == (len(refs), len(outbox))) or time.time() > deadline:
            break
        before = (len(refs), len(outbox))
        time.sleep(2)
    orders = reconcile(sent["line_orders"] + sent["phone_orders"], refs, outbox, sent.get("maybe_orders", []))
    events = Counter(recorded)
    events_lost = sum(1 for e in sent["line_events"] if events[e] == 0)
    events_doubled = sum(n - 1 for n in events.values() if n > 1)
    replies = {}
    if args.fake_line:
        replies = json.loads(urllib.request.urlopen(f"{args.fake_line}/_fake/stats", timeout=10).read())
    print(table(figures, orders, len(sent["line_events"]), events_lost, events_doubled, pending, replies))
    if orders.maybe_sent:
        print(f"\norder requests of unknown outcome (cut off at the end, or not answered 200): {orders.maybe_sent}, "
              f"of which {orders.maybe_found} placed their order (once each; a second would count as doubled)")
    if figures["exceptions"]:
        print(f"\nlocustfile exceptions (no request sent): {figures['exceptions']} (stats_exceptions.csv)")
    if args.web_cpu is not None and figures["requests"]:
        print(f"\nweb CPU (gunicorn processes): {args.web_cpu:.1f} s = {args.web_cpu * 1000 / figures['requests']:.1f} ms per request")
    return 0 if passed(figures, orders, events_lost, events_doubled, replies) else 1


def passed(figures: dict[str, Any], orders: Reconciliation, events_lost: int, events_doubled: int,
           replies: dict[str, Any]) -> bool:
    """The run passes only with no failed request of any kind (not only 5xx: a 400 is a broken flow),
    no exception in the locustfile, and the database reconciled with what was sent."""
    failed = figures["5xx"] or figures["other_failures"] or figures["failures"] or figures["exceptions"]
    replies_short = bool(replies) and replies["replies_ok"] != replies["reply_tokens"]
    return not (failed or not orders.clean or events_lost or events_doubled or replies_short)


def table(f: dict[str, Any], o: Reconciliation, events_sent: int, events_lost: int, events_doubled: int,
          pending: int, replies: dict[str, Any]) -> str:
    lines = ["| requests | req/s | p50 ms | p95 ms | p99 ms | max ms | 5xx | other failures |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|",
             f"| {f['requests']} | {f['rps']:.0f} | {f['p50']} | {f['p95']} | {f['p99']} | {f['max']} | {f['5xx']} | {f['other_failures']} |",
             "",
             "| orders expected | found | lost | doubled | unexpected | LINE events sent (200) | lost | doubled | outbox rows | doubled | still pending | LINE replies ok / distinct tokens |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
             f"| {o.orders_expected} | {o.orders_found} | {o.orders_lost} | {o.orders_doubled} | {o.unexpected_orders} "
             f"| {events_sent} | {events_lost} | {events_doubled} | {o.outbox_rows} | {o.outbox_doubled} | {pending} "
             f"| {replies.get('replies_ok', '–')} / {replies.get('reply_tokens', '–')} |",
             "",
             "| request | count | p99 ms |", "|---|---:|---:|"]
    lines += [f"| {name} | {count} | {p99} |" for name, (count, p99) in sorted(f["per_name"].items())]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
