"""One webhook event, start to finish: claim its id, run the conversation, answer by reply or push.

The ``processed_events`` row is written in the SAME transaction as the event's effects, by one
``INSERT … ON CONFLICT DO NOTHING`` (``core.events.claim_event``; the claim takes no savepoint of its
own, the conversation runs its rules in one): a redelivered or concurrent duplicate finds the unique key
taken, the insert returns no row and the event is skipped (no 500, nothing done twice). The answer goes
by reply token when the token is fresh; otherwise (redelivery, old event, reply refused) by push through
the outbox, with the outbox id — LINE's retry key — derived from the event id, so the same event can
never push twice.

A replied answer is never lost: the same transaction queues it as a standby push, due ``STANDBY_S``
later; the reply, once LINE confirms it, marks that row sent (``outbox.service.settle_standby``). A
process killed between the commit and the reply (the redelivery is then skipped as a duplicate) leaves
the standby to the outbox."""

from __future__ import annotations

import logging
import os
import threading
import uuid
from datetime import timedelta
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, Callable, Sequence

from flask import Flask
from sqlalchemy.orm import Session

from bot import messages as m
from bot.conversation import handle
from bot.messages import Message
from bot.events import Incoming
from bot.line_client import line_api
from core.clock import get_clock
from core.db import db
from core.events import claim_event
from core.retention import EVENT_RETENTION
from outbox.service import WRITTEN_FLAG, enqueue, settle_standby

log = logging.getLogger(__name__)

SOURCE = "line"
# LINE: use the reply token within one minute; older measurements saw ~30 s. Stay well inside.
REPLY_TOKEN_FRESH_MS = 30_000
# How long the standby push of a replied answer waits before the outbox sends it: past the reply call's
# own time limit (2 s connect + 5 s read, bot/line_client.py) with a wide margin, so a reply that went
# out is settled before the push is due, and an answer whose reply never happened still arrives.
STANDBY_S = 90
# Fixed namespace so that uuid5(NAMESPACE, webhookEventId) is the same on every machine and retry.
NAMESPACE = uuid.UUID("6f1c1b8e-3c2a-5d7e-9a41-0d0a7e6b1c55")


# Replies go out on a small per-process pool right after the event's transaction commits, so LINE gets
# its 200 without waiting for our reply call. (WSGI ``call_on_close`` was tried first: Werkzeug's dev
# server skips it when the client hangs up early, and a reply was silently lost.)
_pool: ThreadPoolExecutor | None = None
_pool_pid = 0
_pending: set[Future[Any]] = set()
_pool_lock = threading.Lock()


def send_later(send: Callable[[], str]) -> None:
    """Run ``send`` on the reply pool; failures are logged (the push fallback is inside ``reply``)."""
    global _pool, _pool_pid

    def guarded() -> None:
        try:
            send()
        except Exception:  # noqa: BLE001 - nobody waits for this result; log and carry on
            log.exception("LINE reply failed")

    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid():   # threads do not survive gunicorn's fork
            _pool, _pool_pid = ThreadPoolExecutor(max_workers=8, thread_name_prefix="line-reply"), os.getpid()
        future = _pool.submit(guarded)
        _pending.add(future)
    future.add_done_callback(_forget)


def _forget(future: Future[Any]) -> None:
    with _pool_lock:
        _pending.discard(future)


def flush_replies(timeout: float = 30) -> None:
    """Wait for replies already handed to the pool (tests, and a clean shutdown)."""
    with _pool_lock:
        pending = list(_pending)
    wait(pending, timeout=timeout)


def retry_key(event_id: str) -> str:
    """The deterministic push retry key (and outbox id) for the answer to one event."""
    return str(uuid.uuid5(NAMESPACE, f"line-answer:{event_id}"))


def queue_push(session: Session, incoming: Incoming, messages: Sequence[Message], now: Any, *,
               standby: bool = False) -> None:
    """Queue the answer as a push; the dedupe key and id come from the event, so never twice.

    ``standby``: the answer is about to go by reply, so the push waits ``STANDBY_S`` and is settled as
    sent once LINE has confirmed the reply (``reply``). If the process dies between the commit and the
    reply, or the reply's outcome is never known, the outbox pushes it after the wait (issue 12, hole 7).
    """
    assert incoming.user_id is not None
    if standby:
        session.flush()                       # whatever the event queued before wakes the drain as usual
        woke = session.info.get(WRITTEN_FLAG, False)
    message = enqueue(session, channel="line", recipient=incoming.user_id, kind="line_answer",
                      payload={"messages": m.as_dicts(messages)}, now=now,
                      dedupe_key=f"line:answer:{incoming.event_id}")
    if message.id is None:
        message.id = retry_key(incoming.event_id)
    if standby:
        message.next_attempt_at = now + timedelta(seconds=STANDBY_S)
        session.flush()
        if not woke:                          # nothing is due now: no drain needed for the standby
            session.info.pop(WRITTEN_FLAG, None)


def _settle(app: Flask, incoming: Incoming, now: Any, *, replied: bool) -> None:
    """After the reply, in a transaction of its own: mark the standby push sent (LINE confirmed the
    reply), or make it due now. A standby the worker already took is left to the worker."""
    with db.transaction(app) as session:
        settle_standby(session, retry_key(incoming.event_id), now=now, delivered=replied)


def _fresh(incoming: Incoming, now: Any) -> bool:
    if not incoming.reply_token or incoming.redelivery:
        return False
    age_ms = now.timestamp() * 1000 - incoming.timestamp_ms
    return -REPLY_TOKEN_FRESH_MS < age_ms < REPLY_TOKEN_FRESH_MS


def process(app: Flask, incoming: Incoming, deferred: list[Callable[[], str]] | None = None) -> str:
    """Handle one event; returns what happened ("duplicate", "ignored", "replied", "pushed", "silent").

    With ``deferred`` the reply call is not made here but appended to it, so the view can hand it to
    ``send_later`` once every event of the batch is committed ("deferred"); the push fallback still
    applies.
    """
    if incoming.kind == "other" or not incoming.user_id:
        return "ignored"

    now = get_clock(app).now()
    if now.timestamp() * 1000 - incoming.timestamp_ms > EVENT_RETENTION.total_seconds() * 1000:
        # Its id may already be pruned (core/retention.py): handling it could do it a second time.
        log.warning("LINE event %s older than the event-id retention ignored", incoming.event_id)
        return "ignored"
    fresh = _fresh(incoming, now)
    with db.transaction(app) as session:
        if not claim_event(session, source=SOURCE, event_id=incoming.event_id, now=now):
            log.info("duplicate LINE event %s skipped", incoming.event_id)
            return "duplicate"
        answer = m.check(handle(session, incoming, now=now, config=app.config))
        if answer:
            queue_push(session, incoming, answer, now, standby=fresh)
    if not answer:
        return "silent"
    if not fresh:
        return "pushed"
    if deferred is not None:
        deferred.append(lambda: reply(app, incoming, answer, now))
        return "deferred"
    return reply(app, incoming, answer, now)


def reply(app: Flask, incoming: Incoming, answer: Sequence[Message], now: Any) -> str:
    """Answer with the reply token; if LINE refuses it (expired, used) or is unreachable, queue a push."""
    api = line_api(app)
    result = api.reply(incoming.reply_token or "", answer) if api else None
    if result is not None and result.ok:
        _settle(app, incoming, now, replied=True)
        return "replied"
    # Token expired or already used, or LINE unreachable: the outbox delivers it by push instead.
    log.warning("reply failed for event %s (%s); falling back to push", incoming.event_id,
                result.status if result else "no client")
    _settle(app, incoming, now, replied=False)
    return "pushed"
