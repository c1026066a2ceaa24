"""Scheduled work runs once per minute however many worker processes consume one Redis queue."""

from __future__ import annotations

import uuid

import pytest
from huey import RedisHuey

from otodoke.jobs import claim_slot, make_huey, once_per_slot

REDIS_URL = "redis://127.0.0.1:6379/15"


def _redis_or_skip() -> None:
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except Exception:
        pytest.skip("no Redis on 127.0.0.1:6379")


def test_two_consumers_on_one_redis_queue_run_a_minute_once() -> None:
    _redis_or_skip()
    name = f"test-{uuid.uuid4().hex}"
    # Two processes = two Huey objects on the same queue name (as two `otodoke worker`s build them).
    first, second = (RedisHuey(name, url=REDIS_URL, results=False) for _ in range(2))
    runs: list[str] = []
    tasks = [once_per_slot(h, "plan_at_cutoff")(lambda who=who: runs.append(who))
             for h, who in ((first, "a"), (second, "b"))]
    for task in tasks:
        task()
    assert len(runs) == 1
    # The next minute is a new turn.
    assert claim_slot(first, "plan_at_cutoff", now=10**10) is True
    assert claim_slot(second, "plan_at_cutoff", now=10**10) is False
    first.storage.conn.delete(*first.storage.conn.keys(f"otodoke:periodic:{name}:*"))


def test_sqlite_queue_has_one_consumer_and_needs_no_claim(tmp_path) -> None:
    huey = make_huey(f"sqlite:///{tmp_path}/jobs.db")
    assert claim_slot(huey, "plan_at_cutoff") is True
    assert claim_slot(huey, "plan_at_cutoff") is True
