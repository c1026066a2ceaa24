"""End-to-end tests in a real headless browser: Debian's Chromium (/usr/bin/chromium, installed by
``scripts/browser.sh``, which ``make test`` runs first) driven by Playwright's sync API, against the real
app served by Werkzeug on a free loopback port in a thread of the test process.

The app under test uses the suite's database of the pass (``make test`` runs these tests on both): its
own SQLite file in the session's tmp folder, or its own throwaway PostgreSQL database when
TEST_DATABASE_URL names a server. The demo town is seeded into it once per session, with tomorrow's
orders simulated and planned, under a fixed clock (Tuesday 1 December 2026, 08:00 JST) that the tests
move on where they need time to pass (a TOTP code is good once per 30 s).

Every page a test visits goes through ``Screens.check``: screenshots at 375 px and 1280 px wide into
``OTODOKE_SCREENS`` (default /tmp/otodoke-screens, printed at the end), no sideways scrolling at 375 px,
and every visible button, link, input and select at least 44 px tall with text of 16 px or more.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from core import migrate
from core.clock import JST, FixedClock
from core.db import db, make_engine
from core.testdb import throwaway_database

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium reaches for Google's hosts, which this machine's
# closed network refuses; the rest keep a test run quiet and the same every time.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENS = Path(os.environ.get("OTODOKE_SCREENS", "/tmp/otodoke-screens"))
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=JST)       # Tuesday, before the central district's 10:00 cutoff
DELIVERY_DAY = NOW.date() + timedelta(days=1)       # Wednesday: 中央 and 平野 deliver
DEMO_ORDERS = 24
WIDTHS = (375, 1280)
MIN_TAP_PX = 44

pytestmark = pytest.mark.browser


def _why_no_chromium() -> str | None:
    """None when Chromium is there (after trying the project's own installer once), else why not."""
    if os.access(CHROMIUM, os.X_OK):
        return None
    script = Path(__file__).resolve().parents[2] / "scripts" / "browser.sh"
    subprocess.run(["bash", str(script)], check=False, timeout=600)
    if os.access(CHROMIUM, os.X_OK):
        return None
    if shutil.which("apt-get") is None:
        return f"{CHROMIUM} is missing and this machine has no apt-get to install Debian's chromium"
    if os.geteuid() != 0:
        return f"{CHROMIUM} is missing and installing Debian's chromium needs root (run scripts/browser.sh as root)"
    pytest.fail(f"{CHROMIUM} is missing although this machine could install it: scripts/browser.sh failed")
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright    # a dev dependency: missing it is an error, not a skip

    missing = _why_no_chromium()
    if missing:
        pytest.skip(f"browser tests skipped: {missing}")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


_photographed: list[str] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _photographed:
        terminalreporter.write_line(f"browser screenshots ({len(_photographed)} pages at {' and '.join(map(str, WIDTHS))} px): {SCREENS}")


@dataclass
class Live:
    """The app being served: its base URL, the app object (for links the app would send) and its clock."""

    url: str
    app: Flask
    clock: FixedClock

    def tick(self, seconds: int = 31) -> None:
        """Let time pass: a second TOTP sign-in needs the next 30-second step."""
        self.clock.advance(timedelta(seconds=seconds))


@pytest.fixture(scope="session")
def live_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = os.environ.get("TEST_DATABASE_URL")
    if server:
        with throwaway_database(server, prefix="otodoke_browser") as url:
            engine = make_engine(url)
            migrate.upgrade(engine)
            engine.dispose()
            yield url
        return
    path = tmp_path_factory.mktemp("browser") / "otodoke.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    yield f"sqlite:///{path}"


@pytest.fixture(scope="session")
def live(live_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    from otodoke import create_app
    from delivery.runner import plan_day
    from demo.seed import seed_demo
    from demo.simulate import simulate_orders

    clock = FixedClock(NOW)
    jobs = tmp_path_factory.mktemp("browser-jobs") / "jobs.db"
    app = create_app({"TESTING": True, "DATABASE_URL": live_database, "SECRET_KEY": "browser-test-secret-key",
                      "JOBS_URL": f"sqlite:///{jobs}", "LINE_CHANNEL_SECRET": "", "LINE_CHANNEL_ACCESS_TOKEN": "",
                      "TWILIO_ACCOUNT_SID": "", "TWILIO_AUTH_TOKEN": "", "PLANNING_TIME_LIMIT_S": 1.0},
                     clock=clock)
    with db.transaction(app) as session:
        seed_demo(session, now=NOW)
    with db.transaction(app) as session:
        simulate_orders(session, delivery_date=DELIVERY_DAY, count=DEMO_ORDERS, seed=1, now=NOW)
    plan_day(app, delivery_date=DELIVERY_DAY, actor="demo")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    app.config["PUBLIC_BASE_URL"] = url
    thread = threading.Thread(target=server.serve_forever, name="browser-live-app", daemon=True)
    thread.start()
    try:
        yield Live(url, app, clock)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        db.bound(app).engine.dispose()


# --- every page: screenshots at both widths, no sideways scrolling, 44 px tap targets ----------------

_MEASURE = """(minimum) => {
  const seen = (el) => { const r = el.getBoundingClientRect(); const s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== "hidden" && s.display !== "none"; };
  const name = (el) => (el.getAttribute("aria-label") || el.innerText || el.value || el.name || el.type || "")
    .trim().replace(/\\s+/g, " ").slice(0, 40);
  const small = [];
  for (const el of document.querySelectorAll("a[href], button, input:not([type=hidden]), select, textarea")) {
    if (!seen(el)) continue;
    // A checkbox or radio is tapped through its label: the label is the target then.
    let target = el;
    if ((el.type === "checkbox" || el.type === "radio") && el.closest("label")) target = el.closest("label");
    const h = target.getBoundingClientRect().height;
    if (h < minimum) small.push(`${el.tagName.toLowerCase()} 「${name(el)}」 ${h.toFixed(0)}px`);
    const size = parseFloat(getComputedStyle(el).fontSize);
    if (size < 16) small.push(`${el.tagName.toLowerCase()} 「${name(el)}」 text ${size.toFixed(0)}px`);
  }
  const wide = [];
  for (const el of document.body.querySelectorAll("*")) {
    if (el.getBoundingClientRect().right > innerWidth + 1 && !el.closest("svg")) {
      wide.push(`${el.tagName.toLowerCase()}${el.className ? "." + el.className : ""} ` +
                `${el.getBoundingClientRect().right.toFixed(0)}px`);
    }
  }
  // A box that scrolls sideways inside itself (a wide table in an overflow-x wrapper) is sideways
  // scrolling too, for a thumb on a phone.
  const inner = [];
  for (const el of document.body.querySelectorAll("*")) {
    const s = getComputedStyle(el);
    if (["auto", "scroll"].includes(s.overflowX) && el.scrollWidth > el.clientWidth + 1) {
      inner.push(`${el.tagName.toLowerCase()}${el.className ? "." + el.className : ""} ${el.scrollWidth}px in ${el.clientWidth}px`);
    }
  }
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth, small, wide: wide.slice(0, 8), inner};
}"""


@dataclass
class Screens:
    """Checks and photographs each page a test visits; ``problems`` lists what is wrong on which page."""

    prefix: str
    problems: list[str] = field(default_factory=list)
    count: int = 0

    def check(self, page: Any, name: str) -> None:
        self.count += 1
        stem = f"{self.prefix}-{self.count:02d}-{name}"
        _photographed.append(stem)
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 800})
            page.wait_for_load_state("load")
            page.screenshot(path=str(SCREENS / f"{stem}-{width}.png"), full_page=True)
            page.screenshot(path=str(SCREENS / f"{stem}-{width}-top.png"))    # the first screenful
            if width != 375:
                continue
            found = page.evaluate(_MEASURE, MIN_TAP_PX)
            if found["scrollWidth"] > found["innerWidth"]:
                self.problems.append(f"{name}: scrolls sideways at 375 px (scrollWidth {found['scrollWidth']}"
                                     f" > {found['innerWidth']}; too wide: {', '.join(found['wide'])})")
            for inner in found["inner"]:
                self.problems.append(f"{name}: scrolls sideways inside at 375 px: {inner}")
            for small in found["small"]:
                self.problems.append(f"{name}: too small to tap (under {MIN_TAP_PX} px tall or 16 px text): {small}")
        page.set_viewport_size({"width": 375, "height": 800})

    def assert_clean(self) -> None:
        assert not self.problems, "pages that do not fit a phone:\n  " + "\n  ".join(self.problems)


@pytest.fixture
def screens(request: pytest.FixtureRequest) -> Screens:
    SCREENS.mkdir(parents=True, exist_ok=True)
    return Screens(request.node.name.removeprefix("test_"))


@pytest.fixture
def page(browser: Any, live: Live) -> Iterator[Any]:
    """A fresh browser context (no cookies) at phone width, Japanese, with the app's base URL."""
    context = browser.new_context(base_url=live.url, viewport={"width": 375, "height": 800}, locale="ja-JP")
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()
