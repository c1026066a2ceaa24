"""A ``Retry-After`` is honoured only within a sane range (``outbox.backoff.retry_after_seconds``):
``inf``, ``nan``, zero, negative or unparsable (an HTTP date included) → the normal backoff; more than an
hour → an hour. Checked on the shared parser, on both clients' header readers, on ``retry_delay`` (which
clamps again, for any sender) and end to end: LINE answering 429 with ``Retry-After: inf`` or ``1e308``
through the real SDK client and the real drain.

Negative controls: LINE's ``_retry_after`` back to a bare ``float(value)`` fails the LINE header test;
``retry_delay`` taking ``retry_after_s`` unclamped fails the ``retry_delay`` test (and, with LINE's guard
also removed, the drain test: ``timedelta(seconds=inf)`` raises OverflowError in ``record_outcome``).
"""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from requests.structures import CaseInsensitiveDict
from urllib3 import HTTPHeaderDict

from bot.line_client import _retry_after
from core.clock import FixedClock
from core.db import db
from otodoke import jobs
from outbox.backoff import MAX_RETRY_AFTER_S, retry_after_seconds, retry_delay
from outbox.models import OutboxMessage, OutboxStatus
from outbox.service import enqueue
from tests.line_support import RESIDENT_USER, line_app, line_fake  # noqa: F401  (fixtures)
from voice.twilio_client import _retry_after_s

NONSENSE = ("inf", "-inf", "Infinity", "nan", "NaN", "-5", "0", "-0.0", "", "  ", "soon", "1e400",
            "Fri, 04 Dec 2026 20:00:00 GMT", None)


@pytest.mark.parametrize("value", NONSENSE)
def test_nonsense_means_the_normal_backoff(value) -> None:
    assert retry_after_seconds(value) is None


@pytest.mark.parametrize("value,seconds", [("30", 30.0), (" 120 ", 120.0), ("0.5", 0.5), (45, 45.0),
                                           ("3600", 3600.0), ("3601", MAX_RETRY_AFTER_S),
                                           ("1e308", MAX_RETRY_AFTER_S), (float("1e300"), MAX_RETRY_AFTER_S)])
def test_a_wait_is_kept_up_to_an_hour(value, seconds) -> None:
    assert retry_after_seconds(value) == seconds


@pytest.mark.parametrize("value", ["inf", "nan", "-1", "0", "Fri, 04 Dec 2026 20:00:00 GMT"])
def test_line_header_nonsense_is_ignored(value) -> None:
    for headers in ({"Retry-After": value}, {"retry-after": value}, HTTPHeaderDict({"RETRY-AFTER": value})):
        assert _retry_after(headers) is None, headers


def test_line_header_is_read_and_held_to_an_hour() -> None:
    assert _retry_after({"Retry-After": "30"}) == 30.0
    assert _retry_after(HTTPHeaderDict({"retry-after": "86400"})) == MAX_RETRY_AFTER_S
    assert _retry_after({"Retry-After": "1e308"}) == MAX_RETRY_AFTER_S
    assert _retry_after(None) is None and _retry_after({}) is None


def test_twilio_header_is_held_to_an_hour() -> None:
    assert _retry_after_s(CaseInsensitiveDict({"retry-after": "1e308"})) == MAX_RETRY_AFTER_S
    assert _retry_after_s(CaseInsensitiveDict({"Retry-After": "0"})) is None


def test_retry_delay_clamps_whatever_a_sender_passes() -> None:
    rng = random.Random(1)
    for wait in (float("inf"), float("nan"), -30.0, 0.0):
        delay = retry_delay(1, retry_after_s=wait, rng=rng)
        assert 1.0 <= delay <= 5.0, wait                 # the first backoff step, as with no header
    assert retry_delay(1, retry_after_s=1e308, rng=rng) == MAX_RETRY_AFTER_S
    assert retry_delay(1, retry_after_s=600.0, rng=rng) == 600.0


@pytest.mark.parametrize("header,waits_s", [("inf", None), ("nan", None), ("-60", None),
                                            ("1e308", MAX_RETRY_AFTER_S)])
def test_line_429_with_a_wild_retry_after_is_retried_and_delivered_once(line_app, line_fake, header,  # noqa: F811
                                                                        waits_s) -> None:
    clock: FixedClock = line_app.extensions["core.clock"]
    fake = line_fake.fake
    fake.push_failures.append(429)
    fake.retry_after_s = header       # the fake sends str(retry_after_s) as the header
    with db.transaction(line_app) as session:
        row = enqueue(session, channel="line", recipient=RESIDENT_USER, kind="order_confirmed",
                      payload={"messages": [{"type": "text", "text": "ご注文を承りました。"}]}, now=clock.now())
        session.flush()
        message_id = row.id
    report = jobs.run_drain(line_app)
    assert report.retried == 1
    with db.reading(line_app) as session:
        row = session.get(OutboxMessage, message_id)
        assert row.status is OutboxStatus.PENDING
        wait = row.next_attempt_at - clock.now()
    if waits_s is None:
        assert timedelta(seconds=1) <= wait <= timedelta(seconds=5)     # the normal first step
    else:
        assert wait == timedelta(seconds=waits_s)
    clock.advance(wait)
    assert jobs.run_drain(line_app).sent == 1
    assert [c.status for c in fake.calls] == [429, 200] and len(fake.delivered(RESIDENT_USER)) == 1
