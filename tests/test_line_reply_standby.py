"""A replied LINE answer is never lost (issue 12, hole 7): the event's transaction also queues the answer
as a standby push; a confirmed reply settles it, and a reply that never happened (the web process died
between the commit and the reply call) is pushed by the outbox once the standby wait is over. The
kill is played by ``dispatch.process`` with a ``deferred`` list that is never run: exactly what the
view holds when the process dies after the commit."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bot import dispatch
from bot.events import parse_body
from outbox.models import OutboxMessage, OutboxStatus
from outbox.registry import senders_for
from outbox.worker import drain
from core.db import db
from tests.line_support import (  # noqa: F401  (fixtures)
    RESIDENT_USER, body, line_app, line_client, line_fake, post, seed_town)


def _drain(app: Any) -> Any:
    clock = app.extensions["core.clock"]
    return drain(lambda: db.transaction(app), {"line": senders_for(app)["line"]}, clock.now)


def _rows(app: Any) -> list[OutboxMessage]:
    with db.reading(app) as session:
        rows = list(session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "line_answer")))
        session.expunge_all()
        return rows


def test_a_reply_lost_with_the_process_is_pushed_after_the_standby(line_app, line_fake) -> None:  # noqa: F811
    seed_town(line_app)
    clock = line_app.extensions["core.clock"]
    raw = body("text", text="最初から")
    [incoming] = parse_body(raw)[1]
    deferred: list[Any] = []
    assert dispatch.process(line_app, incoming, deferred) == "deferred"
    # The process dies here: the reply in ``deferred`` is never made. LINE redelivers the event...
    assert post(line_app.test_client(), raw.replace('"isRedelivery": false', '"isRedelivery": true')
                ).status_code == 200
    assert line_fake.fake.calls == []                       # ...which is skipped as a duplicate.
    [row] = _rows(line_app)
    assert row.status is OutboxStatus.PENDING and row.id == dispatch.retry_key(incoming.event_id)
    assert _drain(line_app).sent == 0                       # not before the standby wait
    clock.advance(timedelta(seconds=dispatch.STANDBY_S + 1))
    assert _drain(line_app).sent == 1
    [push] = line_fake.fake.pushes()
    assert push.body["to"] == RESIDENT_USER and push.headers["X-Line-Retry-Key"] == row.id
    assert "ご用件" in json.dumps(push.body["messages"], ensure_ascii=False)


def test_a_confirmed_reply_settles_the_standby_nothing_is_sent_twice(line_app, line_client,  # noqa: F811
                                                                     line_fake) -> None:
    seed_town(line_app)
    clock = line_app.extensions["core.clock"]
    assert post(line_client, body("text", text="最初から")).status_code == 200
    assert len(line_fake.fake.replies()) == 1
    [row] = _rows(line_app)
    assert row.status is OutboxStatus.SENT and row.provider_ref == "reply"
    clock.advance(timedelta(hours=1))
    assert _drain(line_app).sent == 0 and line_fake.fake.pushes() == []


def test_a_refused_reply_makes_the_standby_due_at_once(line_app, line_client, line_fake) -> None:  # noqa: F811
    seed_town(line_app)
    line_fake.fake.expired_tokens.add("tok-gone")
    assert post(line_client, body("text", text="最初から", reply_token="tok-gone")).status_code == 200
    assert line_fake.fake.replies() == []
    [row] = _rows(line_app)
    assert row.status is OutboxStatus.PENDING
    assert _drain(line_app).sent == 1 and len(line_fake.fake.pushes()) == 1   # no waiting for the standby
