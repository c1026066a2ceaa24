"""Twilio retrying a confirm webhook while the first attempt is still running: one order.

The app runs in a threaded server on 127.0.0.1 and several copies of the same signed request are
released together. The negative control sends the same storm of "place this basket" through a
naive handler shape (no call-state lock, no idempotency key) and shows that it does double-order,
so the storm really overlaps and the positive test can fail.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Callable
from xml.etree import ElementTree

import pytest
import requests
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator
from werkzeug.serving import make_server

from orders.models import Order
from orders.service import LineItem, place_order
from otodoke import create_app
from core.db import db
from tests.voice_sim import PUBLIC_BASE, RESIDENT_PHONE, TOKEN, seed_town, voice_config

COPIES = 6


@pytest.fixture
def live(database_url: str, clock: Any, tmp_path: Path) -> Any:
    app = create_app(voice_config(database_url, tmp_path), clock=clock)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()
        db.bound(app).engine.dispose()


def _post(base: str, path: str, params: dict[str, str]) -> requests.Response:
    signature = RequestValidator(TOKEN).compute_signature(PUBLIC_BASE + path, params)
    return requests.post(base + path, data=params, headers={"X-Twilio-Signature": signature}, timeout=30)


def _action(body: str) -> str:
    gather = ElementTree.fromstring(body.encode()).find("Gather")
    assert gather is not None
    return gather.get("action") or ""


def _storm(copies: int, work: Callable[[], Any]) -> list[Any]:
    barrier = threading.Barrier(copies)
    results: list[Any] = [None] * copies
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work()
        except BaseException as error:  # noqa: BLE001 - re-raised below
            errors.append(error)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(copies)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    if errors:
        raise errors[0]
    return results


def _order_count(app: Any) -> int:
    with db.reading(app) as session:
        return session.scalar(select(func.count()).select_from(Order).where(Order.placed_by != "staff:test")) or 0


def test_concurrent_retries_of_confirm_place_one_order(live: Any) -> None:
    app, base = live
    seed_town(app)
    params = {"CallSid": "CA" + "7" * 32, "From": RESIDENT_PHONE, "To": "+81238000001", "AccountSid": "ACtest"}
    menu = _post(base, "/voice/incoming", params)
    readback = _post(base, _action(menu.text), {**params, "Digits": "1"})
    confirm_path = _action(readback.text)

    def timed() -> tuple[float, float, requests.Response]:
        started = time.monotonic()
        response = _post(base, confirm_path, {**params, "Digits": "1"})
        return started, time.monotonic(), response

    results = _storm(COPIES, timed)
    # Copies really were in flight together (else this test could not catch a race).
    first_end = min(end for _, end, _ in results)
    assert sum(1 for start, _, _ in results if start < first_end) >= 2
    responses = [response for _, _, response in results]
    assert all(r.status_code == 200 for r in responses)
    assert len({r.text for r in responses}) == 1 and "承りました" in responses[0].text
    assert _order_count(app) == 1


def test_negative_control_naive_handler_double_orders(live: Any) -> None:
    app, _ = live
    town = seed_town(app)
    items = [LineItem(town.product_ids["大根"], 1)]

    def naive() -> None:
        # What a handler without the per-call lock and idempotency key would do on each copy.
        with db.transaction(app) as session:
            place_order(session, resident_id=town.resident_id, items=items, placed_by="resident:naive",
                        channel="phone", now=app.extensions["core.clock"].now())

    _storm(COPIES, naive)
    assert _order_count(app) == COPIES   # the storm does reach the database COPIES times


def test_concurrent_retries_of_incoming_open_one_call(live: Any) -> None:
    from core.models import Conversation

    app, base = live
    seed_town(app)
    params = {"CallSid": "CA" + "8" * 32, "From": RESIDENT_PHONE, "To": "+81238000001", "AccountSid": "ACtest"}
    responses = _storm(COPIES, lambda: _post(base, "/voice/incoming", params))
    assert all(r.status_code == 200 for r in responses)
    assert len({r.text for r in responses}) == 1 and "いつものご注文は1" in responses[0].text
    with db.reading(app) as session:
        assert session.scalar(select(func.count()).select_from(Conversation)) == 1
