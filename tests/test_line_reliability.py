"""Duplicates arriving at the same moment on a real threaded server, and a LINE outage with recovery."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from bot import dispatch
from sandbox.line import sign
from orders.models import Order
from core.db import db
from core.models import Conversation, ProcessedEvent
from outbox.models import OutboxMessage, OutboxStatus
from tests.line_support import (  # noqa: F401  (fixtures)
    RESIDENT_USER, SECRET, body, line_app, line_client, line_fake, post, seed_town, session_of,
)

SENDERS = 8


@pytest.fixture
def served(line_app: Any) -> Iterator[str]:
    """The app on a real threaded HTTP server, so requests really overlap."""
    server = make_server("127.0.0.1", 0, line_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _post_together(address: str, raw: str, n: int = SENDERS) -> list[int]:
    """``n`` threads post the same signed body at the same instant; returns the status codes."""
    barrier = threading.Barrier(n)
    statuses: list[int] = []
    lock = threading.Lock()
    signature = sign(SECRET, raw)

    def send() -> None:
        host, port = address.split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        barrier.wait()
        conn.request("POST", "/line/callback", body=raw.encode("utf-8"),
                     headers={"Content-Type": "application/json", "X-Line-Signature": signature})
        status = conn.getresponse().status
        conn.close()
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=send) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return statuses


def _basket(app: Any) -> list[list[int]]:
    with session_of(app) as s:
        conv = s.scalars(select(Conversation).where(Conversation.party == RESIDENT_USER)).one()
        return conv.state.get("basket", [])


@pytest.mark.slow
def test_concurrent_duplicates_are_processed_once(line_app, line_fake, served) -> None:
    town = seed_town(line_app)
    for round_ in range(3):
        # 「もう2本」 adds each time (a plain 「大根2本」 with 大根 in the basket asks: add or set?).
        raw = body("text", event_id=f"01JECONCURRENT{round_:012d}", text="大根もう2本")
        statuses = _post_together(served, raw)
        assert statuses == [200] * SENDERS, statuses           # no 500 for the losers
    assert _basket(line_app) == [[town.daikon_id, 6]]            # 3 events × 2, never more
    with session_of(line_app) as s:
        assert s.scalar(select(func.count()).select_from(ProcessedEvent)) == 3
    # Replies go out on the reply pool just after each response; wait for them, then count.
    dispatch.flush_replies()
    deadline = time.monotonic() + 10
    while len(line_fake.fake.replies(ok_only=False)) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)   # room for a wrong extra reply to show up
    assert len(line_fake.fake.replies(ok_only=False)) == 3


@pytest.mark.slow
def test_negative_control_without_the_claim_duplicates_double(line_app, line_fake, served,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The same test with the event-id claim switched off must see the duplicates' effects."""
    town = seed_town(line_app)
    monkeypatch.setattr(dispatch, "claim_event", lambda session, **_: True)
    raw = body("text", event_id="01JENEGATIVE00000000000000", text="大根もう2本")   # adds each time
    _post_together(served, raw)
    [[product_id, quantity]] = _basket(line_app)
    assert product_id == town.daikon_id and quantity > 2


@pytest.mark.slow
def test_concurrent_duplicate_confirm_places_one_order(line_app, line_client, line_fake, served) -> None:
    town = seed_town(line_app)
    post(line_client, body("text", text="大根3本"))
    raw = body("postback", event_id="01JECONFIRM000000000000000", data="a=confirm&w=pm")
    assert _post_together(served, raw) == [200] * SENDERS
    with session_of(line_app) as s:
        [order] = s.scalars(select(Order)).all()
        assert order.lines[0].quantity == 3
        from shops.models import Product
        assert s.get(Product, town.daikon_id).stock == 17


def test_line_down_for_a_while_then_each_message_is_delivered_once(line_app, line_client, line_fake) -> None:
    from outbox.registry import senders_for
    from outbox.worker import drain
    clock = line_app.extensions["core.clock"]
    seed_town(line_app)
    fake = line_fake.fake
    fake.expire_all_tokens = True           # answer by push (and the order confirmation is a push anyway)
    fake.push_down_status = 500
    post(line_client, body("text", text="大根2本"))
    post(line_client, body("postback", data="a=confirm&w=pm"))
    with session_of(line_app) as s:
        rows = {r.id: r.kind for r in s.scalars(select(OutboxMessage).where(OutboxMessage.channel == "line"))}
    assert len(rows) >= 3                   # two answers + the order confirmation

    def run_drain() -> Any:
        return drain(lambda: db.transaction(line_app), {"line": senders_for(line_app)["line"]}, clock.now)

    for _ in range(4):                       # LINE answers 500 for a while
        report = run_drain()
        assert report.sent == 0
        clock.advance(timedelta(minutes=30))
    failed = len(fake.pushes(ok_only=False))
    assert failed >= len(rows) and fake.pushes() == []
    fake.push_down_status = None            # LINE recovers
    clock.advance(timedelta(hours=2))
    run_drain()
    clock.advance(timedelta(hours=2))
    run_drain()                              # nothing left to send: no second copy
    delivered = fake.pushes()
    assert sorted(c.headers["X-Line-Retry-Key"] for c in delivered) == sorted(rows)
    for call in fake.pushes(ok_only=False):
        assert call.headers["X-Line-Retry-Key"] in rows    # every retry reused its row's key
    with session_of(line_app) as s:
        statuses = {r.status for r in s.scalars(select(OutboxMessage).where(OutboxMessage.channel == "line"))}
    assert statuses == {OutboxStatus.SENT}
