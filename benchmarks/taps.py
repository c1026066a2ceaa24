"""``make bench-taps``: how many taps a resident needs on LINE, walked the way ``/sandbox/line`` plays it.

Each walk starts from the rich menu and talks to the real app: the sandbox builds and signs every event
(``/sandbox/line/event``), it is posted to ``/line/callback``, and the bot's replies come back through
the in-app fake LINE API (``/sandbox/line/inbox``). A tap is one button or rich-menu tile pressed (one
postback); nothing is typed. The walker reads the buttons the bot offered, as a resident would, and
presses the one that gets it closer to its goal (``_choose``): it never invents postback data.

Walks (targets from issue #11): いつもの (≤ 2), two items from one shop (≤ 6), two items from two
shops (≤ 8), on the demo town (``demo.seed``) for a LINE resident of a district with several time
windows and no preferred window (the longest path). ``tests/test_taps.py`` runs the same walks.

    python -m benchmarks.taps
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import parse_qsl

from flask import Flask
from sqlalchemy import select

from core.clock import JST, FixedClock

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=JST)   # a Tuesday morning, before the cutoffs
TARGETS = {"いつもの": 2, "1店で2品": 6, "2店で2品": 8}
MAX_TAPS = 30
RICH_MENU = {"a=shops": "注文する", "a=usual": "いつもの"}   # the rich-menu tiles a walk starts from


@dataclass(frozen=True)
class Want:
    shop: str
    product: str
    unit: str
    category: str
    quantity: int


@dataclass
class Walk:
    name: str
    taps: int = 0
    target: int = 0
    placed: bool = False
    labels: list[str] = field(default_factory=list)   # what was pressed, in order

    @property
    def ok(self) -> bool:
        return self.placed and self.taps <= self.target


class Resident:
    """One LINE user driven through the sandbox: ``tap`` posts one postback, returns the new messages."""

    def __init__(self, client: Any, user: str) -> None:
        self.client, self.user, self.seen = client, user, 0

    def _event(self, **params: Any) -> list[dict[str, Any]]:
        from bot.dispatch import flush_replies
        made = self.client.post("/sandbox/line/event", json={"user": self.user, **params}).get_json()
        response = self.client.post("/line/callback", data=made["body"].encode("utf-8"),
                                    headers={"Content-Type": "application/json",
                                             "X-Line-Signature": made["signature"]})
        assert response.status_code == 200, response.status_code
        flush_replies()
        inbox = self.client.get(f"/sandbox/line/inbox?user={self.user}&after={self.seen}").get_json()
        self.seen = inbox["last"]
        return [m for batch in inbox["messages"] if batch["kind"] == "reply" for m in batch["messages"]]

    def tap(self, data: str) -> list[dict[str, Any]]:
        return self._event(type="postback", data=data)

    def say(self, text: str) -> list[dict[str, Any]]:
        return self._event(type="text", text=text)


@dataclass
class Button:
    label: str
    data: str
    card: str = ""      # the title of the Flex bubble the button is on ("" for quick replies)

    @property
    def action(self) -> str:
        return dict(parse_qsl(self.data)).get("a", "")


def buttons(messages: list[dict[str, Any]]) -> list[Button]:
    """Every postback button in the messages: Flex bubbles' buttons (with their card's title), then
    quick replies."""
    found: list[Button] = []
    for message in messages:
        contents = message.get("contents") or {}
        cards = contents.get("contents", []) if contents.get("type") == "carousel" else [contents] if contents else []
        for card in cards:
            title = next((c.get("text", "") for c in card.get("body", {}).get("contents", [])), "")
            for b in (card.get("footer") or {}).get("contents", []):
                action = b.get("action") or {}
                if action.get("type") == "postback":
                    found.append(Button(action["label"], action["data"], title))
        for item in (message.get("quickReply") or {}).get("items", []):
            action = item.get("action") or {}
            if action.get("type") == "postback":
                found.append(Button(action["label"], action["data"]))
    return found


def _text(messages: list[dict[str, Any]]) -> str:
    return json.dumps(messages, ensure_ascii=False)


def _choose(offered: list[Button], todo: list[Want], done: list[Want]) -> Button | None:
    """The button a resident who knows what they want presses next."""
    def first(pred: Any) -> Button | None:
        return next((b for b in offered if pred(b)), None)

    if not todo:
        return (first(lambda b: b.action == "confirm") or first(lambda b: b.action == "usualok")
                or first(lambda b: b.action == "quote" and b.label != "注文に進む")
                or first(lambda b: b.label == "注文に進む"))
    want = todo[0]
    amount = f"{want.quantity}{want.unit}"
    on_card = [b for b in offered if b.card == want.product]
    choice = (next((b for b in on_card if b.action == "add" and b.label == amount), None)
              or next((b for b in on_card if b.action == "qty"), None))
    if choice is None and any(b.card for b in offered if b.action in ("qty", "add")):
        # A product list of this shop without the wanted product: its category, or the next page.
        choice = first(lambda b: b.action == "prods" and b.label == want.category) or first(
            lambda b: b.action == "prods" and b.label == "次へ")
    if choice is None and not on_card:
        choice = first(lambda b: b.action == "add" and b.label == amount and not b.card)   # quantity question
    if choice is None:
        choice = first(lambda b: b.card == want.shop and b.action in ("cats", "prods"))
    if choice is None:
        choice = first(lambda b: b.action == "prods" and b.label == want.category)
    same_shop = bool(done) and done[-1].shop == want.shop
    if choice is None and done:
        more = ["ほかの商品も買う"] if same_shop else ["ほかのお店を見る", "ほかのお店", "ほかの商品も買う"]
        choice = next((b for label in more for b in offered if b.label == label), None)
    if choice is None:
        choice = first(lambda b: b.action == "shops" and b.label != "次へ") or first(
            lambda b: b.action == "shops")
    return choice


def walk(resident: Resident, name: str, start: str, wants: list[Want]) -> Walk:
    """Press ``start`` on the rich menu, then the right buttons until the order is placed."""
    result = Walk(name, target=TARGETS[name])
    todo, done = list(wants), []
    messages = resident.tap(start)
    result.taps, result.labels = 1, [RICH_MENU.get(start, start)]
    while result.taps < MAX_TAPS:
        if "承りました" in _text(messages) or "に追加しました" in _text(messages):
            result.placed = True
            break
        if todo and (f"{todo[0].product} {todo[0].quantity}{todo[0].unit}" in _text(messages)):
            done.append(todo.pop(0))
        choice = _choose(buttons(messages), todo, done)
        if choice is None:
            break
        messages = resident.tap(choice.data)
        result.taps += 1
        result.labels.append(choice.label)
    return result


def _want(session: Any, product: Any) -> Want:
    from shops.models import Shop
    shop = session.get(Shop, product.shop_id)
    return Want(shop.name, product.name, product.unit, product.category or "", 1)


def pick(app: Flask) -> tuple[list[str], list[Want], list[Want]]:
    """Two demo residents to walk with (on LINE, in a district with several windows, no preferred
    window: the longest path) and the products: two of the first shop, and one each of the first two
    shops."""
    from places.models import District
    from core.db import db
    from residents.models import Resident as Row
    from shops.models import Product, Shop
    with db.transaction(app) as session:
        users = []
        for row in session.scalars(select(Row).where(Row.line_user_id.is_not(None)).order_by(Row.id)):
            district = session.get(District, row.district_id)
            if len(district.windows or []) > 1 and len(users) < 2:
                row.preferred_window = None
                users.append(row.line_user_id)
        if len(users) < 2:
            raise RuntimeError("fewer than two LINE residents in districts with several windows")
        shops = list(session.scalars(select(Shop).where(Shop.active.is_(True)).order_by(Shop.id)))[:2]
        first = list(session.scalars(select(Product).where(Product.shop_id == shops[0].id,
                                                           Product.available.is_(True)).order_by(Product.id)))
        second = session.scalars(select(Product).where(Product.shop_id == shops[1].id,
                                                       Product.available.is_(True)).order_by(Product.id)).first()
        one_shop = [_want(session, first[0]), _want(session, first[-1])]
        two_shops = [_want(session, first[0]), _want(session, second)]
    return users, one_shop, two_shops


def run_walks(app: Flask, clock: FixedClock) -> list[Walk]:
    """The three walks on a seeded demo town: two residents with no order yet order by buttons (so
    neither order is an addition); a week later the first one taps いつもの (its last order, delivered
    by then)."""
    client = app.test_client()
    users, one_shop, two_shops = pick(app)
    first, second = Resident(client, users[0]), Resident(client, users[1])
    results = [walk(first, "1店で2品", "a=shops", one_shop), walk(second, "2店で2品", "a=shops", two_shops)]
    clock.advance(timedelta(days=7))
    results.append(walk(first, "いつもの", "a=usual", []))
    return results


@contextmanager
def sandbox_app(database_url: str, clock: FixedClock, jobs_dir: str) -> Iterator[Flask]:
    """The app with the LINE sandbox on, served over HTTP so the SDK reaches the in-app fake LINE API."""
    from werkzeug.serving import make_server

    from otodoke import create_app
    from core.db import db
    holder: dict[str, Any] = {}
    server = make_server("127.0.0.1", 0, lambda env, start: holder["app"](env, start), threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    app = create_app({
        "TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "bench-secret-key",
        "JOBS_URL": f"sqlite:///{Path(jobs_dir) / 'jobs.db'}", "LINE_CHANNEL_SECRET": "",
        "LINE_CHANNEL_ACCESS_TOKEN": "", "LINE_SANDBOX": "1", "PUBLIC_BASE_URL": url,
    }, clock=clock)
    holder["app"] = app
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with app.app_context():
            yield app
    finally:
        server.shutdown()
        server.server_close()
        api = app.extensions.get("otodoke.line_api")
        if api is not None:
            api.close()
        db.bound(app).engine.dispose()


def seed(app: Flask, clock: FixedClock) -> None:
    from demo.seed import seed_demo
    from core.db import db
    with db.transaction(app) as session:
        seed_demo(session, now=clock.now())


def table(results: list[Walk]) -> str:
    rows = ["| walk | taps | target | placed | buttons pressed |", "|---|---:|---:|---|---|"]
    for r in results:
        rows.append(f"| {r.name} | {r.taps} | ≤ {r.target} | {'yes' if r.placed else 'NO'} | "
                    f"{' → '.join(r.labels)} |")
    return "\n".join(rows)


def main() -> int:
    import logging
    logging.getLogger("werkzeug").setLevel(logging.WARNING)   # one access line per reply otherwise
    from core import migrate
    from sqlalchemy import create_engine
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'taps.db'}"
        engine = create_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        clock = FixedClock(NOW)
        with sandbox_app(url, clock, tmp) as app:
            seed(app, clock)
            results = run_walks(app, clock)
    print(table(results))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
