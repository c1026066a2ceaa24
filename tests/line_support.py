"""Shared pieces for the LINE tests: the fake LINE API on a real threaded server, an app whose SDK
points at it, fixture bodies from ``tests/fixtures/line`` signed with the test secret by LINE's
algorithm, and a small seeded town (one district, one resident on LINE, one shop)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from sandbox.fake_line import RunningFake, serve
from sandbox.line import sign
from otodoke import create_app
from core.clock import FixedClock
from core.db import db
from tests import factories

FIXTURES = Path(__file__).parent / "fixtures" / "line"
SECRET = "test-channel-secret-0123456789ab"
TOKEN = "test-access-token"
NOW_MS = 1796079600000          # conftest DEFAULT_NOW (2026-12-01 08:00 JST) in epoch ms
RESIDENT_USER = "U1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d"
_ids = itertools.count(1)


def event_id() -> str:
    """A fresh ULID-shaped webhookEventId."""
    return f"01JE{next(_ids):022d}"


def body(name: str, **values: Any) -> str:
    """A fixture body with its placeholders filled in (defaults: fresh ids, the resident, now)."""
    defaults: dict[str, Any] = dict(event_id=event_id(), user=RESIDENT_USER, ts=NOW_MS,
                                    reply_token=f"rt{next(_ids):030d}", redelivery="false",
                                    text="", data="", lat=38.1075, lon=140.0405)
    defaults.update(values)
    text = Template((FIXTURES / f"{name}.json").read_text(encoding="utf-8")).substitute(defaults)
    json.loads(text)  # a fixture must stay valid JSON
    return text


def post(client: Any, raw: str, *, secret: str = SECRET, signature: str | None = None) -> Any:
    sig = sign(secret, raw) if signature is None else signature
    headers = {"Content-Type": "application/json"}
    if sig != "":
        headers["X-Line-Signature"] = sig
    response = client.post("/line/callback", data=raw.encode("utf-8"), headers=headers)
    # Replies leave on the reply pool just after the response; wait for them before asserting.
    from bot.dispatch import flush_replies
    flush_replies()
    return response


@pytest.fixture
def line_fake() -> Iterator[RunningFake]:
    running = serve()
    yield running
    running.stop()


@pytest.fixture
def line_app(database_url: str, clock: FixedClock, tmp_path: Path, line_fake: RunningFake) -> Iterator[Flask]:
    app = create_app({
        "TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test-secret-key",
        "JOBS_URL": f"sqlite:///{tmp_path / 'jobs.db'}",
        "LINE_CHANNEL_SECRET": SECRET, "LINE_CHANNEL_ACCESS_TOKEN": TOKEN,
        "LINE_API_HOST": line_fake.url, "LINE_SANDBOX": False,
        "TWILIO_ACCOUNT_SID": "", "TWILIO_AUTH_TOKEN": "", "COORDINATOR_PHONE": "0238-84-2111",
    }, clock=clock)
    with app.app_context():
        yield app
    api = app.extensions.get("otodoke.line_api")
    if api is not None:
        api.close()
    db.bound(app).engine.dispose()


@pytest.fixture
def line_client(line_app: Flask) -> Any:
    return line_app.test_client()


@dataclass
class Town:
    district_id: int
    resident_id: int
    shop_id: int
    daikon_id: int
    apple_id: int
    bread_id: int


def seed_town(app: Flask) -> Town:
    with db.transaction(app) as session:
        district = factories.make_district(session)
        resident = factories.make_resident(session, district, line_user_id=RESIDENT_USER)
        shop = factories.make_shop(session, name="本町青果")
        daikon = factories.make_product(session, shop, name="大根", kana="だいこん", unit="本", price_yen=150, stock=20)
        apple = factories.make_product(session, shop, name="りんご", kana="りんご", unit="個", price_yen=120,
                                       stock=30, category="果物")
        bread = factories.make_product(session, shop, name="食パン", kana="しょくぱん", unit="斤", price_yen=300,
                                       stock=None, category="パン")
        return Town(district.id, resident.id, shop.id, daikon.id, apple.id, bread.id)


def session_of(app: Flask) -> Session:
    return db.bound(app).sessions()
