"""``make bench-voice``: how fast the phone line answers, and how long an order takes to hear.

1. TwiML response time under concurrent calls: the app runs on gunicorn (as in production) on
   127.0.0.1; N simulated calls (signed like Twilio) run at once, each a whole conversation — half
   「いつもの」 (greeting → 1 → read-back → 1), half item by item (shop → item → quantity → read-back
   → 1). Every webhook is timed at the client. Target: p99 < 300 ms.
2. For a usual basket of three items: the characters of every prompt the caller hears from the
   greeting to the confirmation, turned into seconds at the configured speaking rate, plus the
   pauses; and the number of key presses. Targets: ≤ 90 s and ≤ 3 presses.

Prints Markdown tables (paste them into docs/benchmarks.md). No timing assertions live in tests.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urljoin
from xml.etree import ElementTree

import requests
from twilio.request_validator import RequestValidator

from core.clock import JST

TOKEN = "bench-twilio-token"
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=JST)   # a Tuesday before the 10:00 cutoff
# Japanese TTS at 100 % reads about 6 characters a second (kanji count once, though they take
# longer to say; an assumption to check against a real call). The configured SSML rate scales it.
BASE_CHARS_PER_SECOND = 6.0


def seed(database_url: str, residents: int) -> list[str]:
    """A district, two shops, six products with ample stock, ``residents`` residents each with a
    three-item usual basket. Returns their phone numbers."""
    from places.models import District
    from orders.service import LineItem, place_order
    from otodoke import create_app
    from core import migrate
    from core.db import db
    from residents.models import Resident
    from shops.models import Product, Shop

    app = create_app({"DATABASE_URL": database_url, "TESTING": True,
                      "JOBS_URL": "sqlite:///" + os.path.join(tempfile.mkdtemp(), "jobs.db")})
    migrate.upgrade(db.bound(app).engine)
    phones = []
    with db.transaction(app) as session:
        district = District(code="bench", name="中央", kana="ちゅうおう", delivery_weekdays="012345",
                            cutoff_days_before=0, cutoff_time="10:00", skip_public_holidays=True,
                            windows=[{"code": "pm", "label": "午後", "start": "13:00", "end": "17:00"}],
                            centre_lat=38.1075, centre_lon=140.0405, depot_name="市役所",
                            depot_lat=38.1075, depot_lon=140.0405, fee_yen=100)
        session.add(district)
        shops = [Shop(name=n, kana=k, kind=kind, address="長井市", lat=38.1, lon=140.04)
                 for n, k, kind in (("やまびこ直売所", "やまびこちょくばいじょ", "farm_stand"),
                                    ("まちの商店", "まちのしょうてん", "shop"))]
        session.add_all(shops)
        session.flush()
        catalogue = [(0, "大根", "だいこん", "本", 150), (0, "りんご", "りんご", "個", 120),
                     (0, "人参", "にんじん", "袋", 100), (1, "牛乳", "ぎゅうにゅう", "本", 220),
                     (1, "食パン", "しょくぱん", "斤", 250), (1, "卵", "たまご", "パック", 280)]
        products = [Product(shop_id=shops[s].id, name=n, kana=k, category="食品", unit=u, price_yen=p,
                            stock=100000, available=True) for s, n, k, u, p in catalogue]
        session.add_all(products)
        session.flush()
        ids = [p.id for p in products]
        people = []
        for i in range(residents):
            phone = f"+8123888{i:04d}"
            phones.append(phone)
            people.append(Resident(name=f"試験 太郎{i}", kana="しけん たろう", phone=phone, address="長井市",
                                   lat=38.1, lon=140.04, district_id=district.id, payment_method="cash",
                                   active=True, consented_at=NOW, created_at=NOW))
        session.add_all(people)
        session.flush()
        resident_ids = [r.id for r in people]
    for rid in resident_ids:
        with db.transaction(app) as session:
            place_order(session, resident_id=rid, items=[LineItem(ids[0], 2), LineItem(ids[1], 3),
                                                         LineItem(ids[3], 1)],
                        placed_by="staff:bench", channel="sim", now=NOW - timedelta(days=7))
    db.bound(app).engine.dispose()
    return phones


@dataclass
class Caller:
    base: str
    phone: str
    think: tuple[float, float] = (0.0, 0.0)
    timings: list[tuple[str, float]] = field(default_factory=list)
    heard: list[tuple[list[str], int]] = field(default_factory=list)   # (sentences, breaks) per response
    presses: int = 0
    action: str = ""

    def __post_init__(self) -> None:
        self.http = requests.Session()
        self.sid = "CA" + uuid.uuid4().hex

    def post(self, label: str, path: str, **extra: str) -> None:
        params = {"CallSid": self.sid, "AccountSid": "ACbench", "From": self.phone, "To": "+81238000001",
                  "CallStatus": "in-progress", "Direction": "inbound", "ApiVersion": "2010-04-01", **extra}
        url = urljoin(self.base + "/", path)
        signature = RequestValidator(TOKEN).compute_signature(url, params)
        started = time.perf_counter()
        # A new connection per webhook, as Twilio's requests arrive; reusing one across a caller's
        # think time races gunicorn closing idle keep-alive connections (reset by peer).
        response = self.http.post(url, data=params, timeout=30,
                                  headers={"X-Twilio-Signature": signature, "Connection": "close"})
        self.timings.append((label, time.perf_counter() - started))
        response.raise_for_status()
        root = ElementTree.fromstring(response.content)
        self.heard.append(([p.text or "" for p in root.iter("prosody")], len(list(root.iter("break")))))
        gather = root.find("Gather")
        self.action = gather.get("action", "") if gather is not None else ""

    def press(self, label: str, keys: str) -> None:
        if self.think[1] > 0:
            time.sleep(random.uniform(*self.think))   # listening to the prompt, finding the key
        self.presses += 1
        self.post(label, self.action, Digits=keys)

    def usual(self) -> None:
        self.post("incoming", "/voice/incoming")
        self.press("menu→いつもの", "1")
        self.press("confirm", "1")
        self.post("goodbye", self.action)

    def browse(self) -> None:
        self.post("incoming", "/voice/incoming")
        self.press("menu→注文", "2")
        self.press("shop", "1")
        self.press("item", "1")
        self.press("quantity", "2")
        self.press("more→review", "2")
        self.press("confirm", "1")
        self.post("goodbye", self.action)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(database_url: str, workers: int, threads: int) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, DATABASE_URL=database_url, TWILIO_AUTH_TOKEN=TOKEN, TWILIO_ACCOUNT_SID="ACbench",
               TWILIO_FROM_NUMBER="+815000000000", TWILIO_API_BASE_URL="http://127.0.0.1:9",
               PUBLIC_BASE_URL=base, OTODOKE_FROZEN_NOW=NOW.isoformat(), TWILIO_SANDBOX="0",
               JOBS_URL="sqlite:///" + os.path.join(tempfile.mkdtemp(), "jobs.db"))
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    proc = subprocess.Popen([gunicorn, "-w", str(workers), "--threads", str(threads), "-b", f"127.0.0.1:{port}",
                             "--log-level", "warning", "--preload", "otodoke:create_app()"], env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(base + "/health", timeout=2).ok:
                return proc, base
        except requests.RequestException:
            time.sleep(0.3)
    proc.terminate()
    raise RuntimeError("gunicorn did not start")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return ordered[index]


def load_test(base: str, phones: list[str], calls: int, rounds: int,
              think: tuple[float, float]) -> list[tuple[str, float]]:
    timings: list[tuple[str, float]] = []
    lock = threading.Lock()
    errors: list[BaseException] = []
    barrier = threading.Barrier(calls)

    def one(i: int) -> None:
        try:
            barrier.wait()
            if think[1] > 0:
                time.sleep(random.uniform(0, think[1]))   # calls start at different moments
            for r in range(rounds):
                caller = Caller(base, phones[i], think=think)
                caller.usual() if (i + r) % 2 == 0 else caller.browse()
                with lock:
                    timings.extend(caller.timings)
        except BaseException as error:  # noqa: BLE001 - reported after the run
            errors.append(error)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return timings


def spoken_time(base: str, phone: str, rate: str, pause_s: float, cps: float) -> tuple[int, float, int, int]:
    caller = Caller(base, phone)
    caller.post("incoming", "/voice/incoming")
    caller.press("menu", "1")
    # Everything heard before the confirming key press: greeting, menu, read-back and question.
    chars = sum(len(s) for sentences, _ in caller.heard for s in sentences)
    breaks = sum(b for _, b in caller.heard)
    caller.press("confirm", "1")
    assert any("承りました" in s for s in caller.heard[-1][0]), "the order was not confirmed"
    scale = float(rate.rstrip("%")) / 100 if rate.endswith("%") else 1.0
    seconds = chars / (cps * scale) + breaks * pause_s
    return chars, seconds, breaks, caller.presses


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=30, help="concurrent calls")
    parser.add_argument("--rounds", type=int, default=2, help="whole calls per concurrent caller")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--think", type=float, nargs=2, default=(1.0, 3.0), metavar=("MIN", "MAX"),
                        help="seconds a caller takes before each key press in the paced run "
                             "(real callers take longer: every prompt lasts several seconds)")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"),
                        help="default: a fresh SQLite file")
    parser.add_argument("--postgres", metavar="SERVER_URL", default=None,
                        help="run on a throwaway database on this PostgreSQL server instead")
    parser.add_argument("--chars-per-second", type=float, default=BASE_CHARS_PER_SECOND)
    args = parser.parse_args(argv)

    if args.postgres:
        from core.testdb import throwaway_database
        with throwaway_database(args.postgres, prefix="otodoke_bench") as url:
            return run(args, url)
    return run(args, args.database_url or "sqlite:///" + os.path.join(tempfile.mkdtemp(), "bench.db"))


def run(args: argparse.Namespace, raw_url: str) -> int:
    from core.config import normalise_database_url
    from voice.twiml import VoiceStyle

    database_url = normalise_database_url(raw_url)
    phones = seed(database_url, max(args.calls, 1) + 1)
    proc, base = start_gunicorn(database_url, args.workers, args.threads)
    try:
        # Warm every worker (SQLAlchemy's statement cache, first queries) as a running server would be.
        # (Never with the last resident: the spoken-time call needs her three-item usual basket intact.)
        warm = min(args.workers * 2, args.calls)
        load_test(base, phones[:warm], warm, 1, (0.0, 0.0))
        runs = []
        for name, think in (("paced", tuple(args.think)), ("burst, no pause between webhooks", (0.0, 0.0))):
            started = time.perf_counter()
            timings = load_test(base, phones[:args.calls], args.calls, args.rounds, think)
            runs.append((name, think, timings, time.perf_counter() - started))
        style = VoiceStyle.from_config(os.environ)
        pause_s = float(style.pause.rstrip("ms")) / 1000 if style.pause.endswith("ms") else 1.0
        chars, seconds, breaks, presses = spoken_time(base, phones[-1], style.rate, pause_s, args.chars_per_second)
    finally:
        proc.terminate()
        proc.wait(timeout=30)

    backend = database_url.split(":", 1)[0].split("+")[0]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    for name, think, timings, wall in runs:
        print(f"\n### TwiML response time — {name}: {args.calls} concurrent calls × {args.rounds}, "
              f"think {think[0]:g}–{think[1]:g} s, gunicorn {args.workers} workers × {args.threads} threads, "
              f"{backend}, {os.cpu_count()} CPUs (load average {load:.1f} after the runs)\n")
        print("| webhook | requests | p50 ms | p99 ms | max ms |")
        print("|---|---:|---:|---:|---:|")
        labels = sorted({label for label, _ in timings}, key=lambda l: [t[0] for t in timings].index(l))
        for label in labels + ["all"]:
            values = [v * 1000 for l, v in timings if l == label or label == "all"]
            print(f"| {label} | {len(values)} | {statistics.median(values):.0f} | "
                  f"{percentile(values, 99):.0f} | {max(values):.0f} |")
        print(f"\n{len(timings)} webhooks in {wall:.1f} s ({len(timings) / wall:.0f}/s); "
              "target p99 < 300 ms.\n")
    print("### A usual basket of three items, greeting to confirmation\n")
    print("| spoken characters | pauses | speaking rate | spoken time | key presses |")
    print("|---:|---:|---|---:|---:|")
    print(f"| {chars} | {breaks} × {pause_s:.1f} s | {style.rate} of {args.chars_per_second:g} chars/s "
          f"| {seconds:.0f} s | {presses} |")
    print("\nTargets: ≤ 90 s and ≤ 3 presses (keys may be pressed during a prompt: Gather barges in).")
    return 0


if __name__ == "__main__":
    random.seed(1)
    sys.exit(main())
