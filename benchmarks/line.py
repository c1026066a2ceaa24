"""``make bench-line``: LINE webhook throughput and latency under 50 concurrent senders, against
gunicorn on SQLite and on PostgreSQL, with the fake LINE API (a separate process) taking the replies.

Each event is a signed text order (「大根2本とりんご1個」) from one of many residents: signature check,
event-id claim, free-text parsing against the catalogue, a quote, the conversation row, one reply.
Afterwards it checks that no event was lost or doubled: every event id is recorded once and the fake
received exactly one reply per event. Prints a table and writes the ``## LINE webhook`` section of
``docs/benchmarks.md``.

    python -m benchmarks.line [--events 3000] [--senders 50] [--pg postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from sqlalchemy import func, select

from benchmarks.line_report import reading, summary, table, write_section
from sandbox.line import sign

SECRET = "bench-channel-secret"
TOKEN = "bench-access-token"
USERS = 400
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    backend: str
    events: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    non_200: int
    recorded: int
    replies: int
    distinct_tokens: int
    cpu_ms: float = 0.0      # web processes' CPU per event (gunicorn master and workers)
    loadgen_ms: float = 0.0  # this process's CPU per event (the 50 senders)
    fake_ms: float = 0.0     # the fake LINE API's CPU per event
    pg_ms: float | None = None  # CPU per event of the PostgreSQL backends serving the bench database
    load: str = ""           # the machine's 1-minute load average before and after (other work on the box)

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    @property
    def lost(self) -> int:
        return self.events - min(self.recorded, self.replies)

    @property
    def doubled(self) -> int:
        return max(0, self.recorded - self.events) + max(0, self.replies - self.distinct_tokens)


def _processes() -> Iterator[tuple[int, int, float, Path]]:
    """(pid, parent pid, user+system CPU seconds, /proc entry) of every process, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        yield int(entry.name), int(fields[1]), (int(fields[11]) + int(fields[12])) / tick, entry


def _cpu_seconds(root_pid: int) -> float:
    """user+system CPU of a process and its children (gunicorn master + workers), from /proc."""
    return sum(cpu for pid, ppid, cpu, _ in _processes() if root_pid in (pid, ppid))


def _pg_backends(database: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend connected to ``database`` (its title names the database;
    shared background processes such as the WAL writer are not counted)."""
    found = {}
    for pid, _ppid, cpu, entry in _processes():
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if title.startswith("postgres:") and f" {database} " in title:
            found[pid] = cpu
    return found


def _pg_delta(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, seconds: float = 30) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def _settled_stats(port: int, expected_replies: int, seconds: float = 15) -> dict:
    """Replies leave just after each response; wait until they are all in (or stop coming)."""
    deadline = time.time() + seconds
    while True:
        stats = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/_fake/stats").read())
        if stats["replies_ok"] >= expected_replies or time.time() > deadline:
            time.sleep(0.5)   # room for a wrong extra reply to show up
            return json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/_fake/stats").read())
        time.sleep(0.2)


def seed(database_url: str) -> list[str]:
    """Migrate and load one district, one shop and many residents on LINE; returns their user ids."""
    from places.models import District
    from core import migrate
    from core.db import make_engine
    from residents.models import Resident
    from shops.models import Product, Shop
    from sqlalchemy.orm import Session
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    now = datetime.now(timezone.utc)
    users = [f"U{uuid.uuid5(uuid.NAMESPACE_DNS, f'bench-{i}').hex}" for i in range(USERS)]
    with Session(engine) as session, session.begin():
        district = District(code="bench", name="中央", kana="ちゅうおう", delivery_weekdays="0123456",
                            cutoff_days_before=1, cutoff_time="17:00", skip_public_holidays=False,
                            windows=[{"code": "pm", "label": "午後", "start": "13:00", "end": "17:00"}],
                            centre_lat=38.1075, centre_lon=140.0405, depot_name="市役所", depot_lat=38.1075,
                            depot_lon=140.0405, fee_yen=100)
        session.add(district)
        session.flush()
        shop = Shop(name="本町青果", kana="ほんちょうせいか", kind="shop", address="長井市本町", lat=38.1, lon=140.04)
        session.add(shop)
        session.flush()
        for name, kana, unit, price in (("大根", "だいこん", "本", 150), ("りんご", "りんご", "個", 120),
                                        ("白菜", "はくさい", "玉", 300), ("牛乳", "ぎゅうにゅう", "本", 220)):
            session.add(Product(shop_id=shop.id, name=name, kana=kana, category="野菜", unit=unit,
                                price_yen=price, stock=100000, available=True))
        for i, user in enumerate(users):
            session.add(Resident(name=f"利用者{i}", kana=f"りようしゃ{i}", phone=None, address=f"長井市本町{i}",
                                 lat=38.1, lon=140.04, district_id=district.id, line_user_id=user,
                                 payment_method="cash", active=True, consented_at=now, created_at=now))
    engine.dispose()
    return users


def event_body(user: str) -> str:
    event = {"type": "message", "mode": "active", "timestamp": int(time.time() * 1000),
             "source": {"type": "user", "userId": user}, "replyToken": uuid.uuid4().hex,
             "webhookEventId": uuid.uuid4().hex.upper()[:26], "deliveryContext": {"isRedelivery": False},
             "message": {"type": "text", "id": str(time.time_ns()), "quoteToken": "q", "text": "大根2本とりんご1個"}}
    return json.dumps({"destination": "U" + "0" * 32, "events": [event]}, ensure_ascii=False)


def load(port: int, users: list[str], events: int, senders: int,
         rate: float = 0.0) -> tuple[list[float], int, float, float]:
    """``senders`` threads, each with its own keep-alive connection and its own residents.

    ``rate`` 0: closed loop, each sender posts as soon as its previous answer came back (maximum
    throughput). ``rate`` > 0: open loop, the senders together post ``rate`` events per second on a
    fixed schedule, and latency counts from the scheduled time (so queueing shows, not hidden).
    Returns the latencies (ms), the failures, the seconds until the last answer, and the start as
    ``time.time()`` (to compare with the fake's clock: it is on this machine).
    """
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()
    per_sender = events // senders
    barrier = threading.Barrier(senders + 1)

    def sender(index: int) -> None:
        nonlocal failures
        mine = users[index::senders]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        local, bad = [], 0
        barrier.wait()
        begin = time.perf_counter()
        interval = senders / rate if rate else 0.0
        for i in range(per_sender):
            scheduled = begin + index * interval / senders + i * interval if rate else 0.0
            if rate and scheduled > time.perf_counter():
                time.sleep(scheduled - time.perf_counter())
            # Made at send time: the event's timestamp decides whether its reply token is still fresh.
            raw = event_body(mine[i % len(mine)])
            data, signature = raw.encode("utf-8"), sign(SECRET, raw)
            started = scheduled if rate else time.perf_counter()
            try:
                conn.request("POST", "/line/callback", body=data,
                             headers={"Content-Type": "application/json", "X-Line-Signature": signature})
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
            except OSError:
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            local.append((time.perf_counter() - started) * 1000)
            bad += 0 if ok else 1
        conn.close()
        with lock:
            latencies.extend(local)
            failures += bad

    threads = [threading.Thread(target=sender, args=(i,)) for i in range(senders)]
    for t in threads:
        t.start()
    barrier.wait()
    started, started_wall = time.perf_counter(), time.time()
    for t in threads:
        t.join()
    return latencies, failures, time.perf_counter() - started, started_wall


@contextmanager
def database(backend: str, pg_url: str | None, workdir: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{workdir / 'bench.db'}"
        return
    from core.testdb import throwaway_database
    assert pg_url
    with throwaway_database(pg_url, prefix="otodoke_bench") as url:
        yield url


def run(backend: str, pg_url: str | None, events: int, senders: int, workers: int, threads: int,
        rate: float = 0.0) -> Result:
    from core.db import make_engine
    from core.models import ProcessedEvent
    with tempfile.TemporaryDirectory() as tmp, database(backend, pg_url, Path(tmp)) as url:
        users = seed(url)
        fake_port, app_port = _free_port(), _free_port()
        env = dict(os.environ, DATABASE_URL=url, LINE_CHANNEL_SECRET=SECRET, LINE_CHANNEL_ACCESS_TOKEN=TOKEN,
                   LINE_API_HOST=f"http://127.0.0.1:{fake_port}", JOBS_URL=f"sqlite:///{tmp}/jobs.db",
                   OTODOKE_ENV="benchmark", PYTHONPATH=str(ROOT))
        fake = subprocess.Popen([sys.executable, "-m", "sandbox.fake_line", "--port", str(fake_port), "--no-validate"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        web = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", str(workers), "-k", "gthread",
                                "--threads", str(threads), "-b", f"127.0.0.1:{app_port}", "--log-level", "warning",
                                "otodoke:create_app()"], env=env, cwd=ROOT, stderr=subprocess.DEVNULL)
        try:
            _wait(f"http://127.0.0.1:{fake_port}/_fake/stats")
            _wait(f"http://127.0.0.1:{app_port}/health")
            load(app_port, users, senders * 4, senders)            # warm-up: imports, pools, caches
            before = _settled_stats(fake_port, senders * 4)   # the warm-up's replies, all in
            engine = make_engine(url)
            with engine.connect() as conn:
                recorded_before = conn.scalar(select(func.count()).select_from(ProcessedEvent)) or 0
            db_name = url.rsplit("/", 1)[-1]
            load_before = os.getloadavg()[0]
            cpu_before, fake_before, own_before = _cpu_seconds(web.pid), _cpu_seconds(fake.pid), time.process_time()
            pg_before = _pg_backends(db_name) if backend == "postgresql" else {}
            latencies, failures, answered, started_wall = load(app_port, users, events, senders, rate)
            # Replies leave just after each answer: the run ends when the last one reached the fake
            # (a backlog of replies behind fast 200s must not count as throughput).
            in_time = _settled_stats(fake_port, before["replies_ok"] + len(latencies), seconds=10)
            seconds = max(answered, in_time["last_reply_at"] - started_wall)
            cpu = _cpu_seconds(web.pid) - cpu_before
            fake_cpu = _cpu_seconds(fake.pid) - fake_before
            own_cpu = time.process_time() - own_before
            pg_cpu = _pg_delta(pg_before, _pg_backends(db_name)) if backend == "postgresql" else None
            load_text = f"{load_before:.1f} → {os.getloadavg()[0]:.1f}"
            with engine.connect() as conn:
                recorded = (conn.scalar(select(func.count()).select_from(ProcessedEvent)) or 0) - recorded_before
            after = _settled_stats(fake_port, before["replies_ok"] + recorded)
            engine.dispose()
        finally:
            web.terminate()
            fake.terminate()
            web.wait(timeout=30)
            fake.wait(timeout=30)
    print(f"[{backend}] recorded={recorded} replies={after['replies_ok'] - before['replies_ok']} statuses={after['statuses']}", file=sys.stderr)
    quantiles = statistics.quantiles(latencies, n=100)
    return Result(backend=f"{backend} ({f'paced {rate:.0f}/s' if rate else 'closed loop'})", events=len(latencies), seconds=seconds, p50_ms=quantiles[49],
                  p99_ms=quantiles[98], max_ms=max(latencies), non_200=failures, recorded=recorded,
                  replies=after["replies_ok"] - before["replies_ok"],
                  distinct_tokens=after["reply_tokens"] - before["reply_tokens"],
                  cpu_ms=cpu * 1000 / max(1, len(latencies)), loadgen_ms=own_cpu * 1000 / max(1, len(latencies)),
                  fake_ms=fake_cpu * 1000 / max(1, len(latencies)),
                  pg_ms=None if pg_cpu is None else pg_cpu * 1000 / max(1, len(latencies)), load=load_text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--senders", type=int, default=50)
    # The Procfile's web process: gunicorn --workers 2 --threads 4.
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--pg", default=os.environ.get("TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--rates", default="0,210,60",
                        help="comma-separated: 0 = closed loop (max throughput), N = paced at N events/s")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    from core.testdb import reachable
    backends = [args.only] if args.only else ["sqlite", "postgresql"]
    results = []
    for backend in backends:
        if backend == "postgresql" and not reachable(args.pg):
            print(f"PostgreSQL not reachable at {args.pg}: skipped", file=sys.stderr)
            continue
        for rate in [float(r) for r in args.rates.split(",") if r.strip()]:
            events = args.events if not rate else min(args.events, int(rate * 15))
            results.append(run(backend, args.pg, events, args.senders, args.workers, args.threads, rate))
    text = table(results, args.senders, args.workers, args.threads) + "\n\n" + summary(results)
    print(text + "\n\n" + reading(results))
    if not args.no_write:
        write_section(text, results)
    return 0 if all(r.lost == 0 and r.doubled == 0 and r.non_200 == 0 for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
