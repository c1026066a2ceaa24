"""Outbox rows for tests: queue one in its own committed transaction, read one back detached."""

from __future__ import annotations

from typing import Any

from flask import Flask

from core.db import db
from outbox.models import OutboxMessage
from outbox.service import enqueue


def queue_message(app: Flask, channel: str, recipient: str, payload: dict[str, Any],
                  kind: str = "order_confirmed") -> str:
    with db.transaction(app) as session:
        message = enqueue(session, channel=channel, recipient=recipient, kind=kind, payload=payload,
                          now=app.extensions["core.clock"].now(), dedupe_key=f"test:{channel}:{kind}")
        session.flush()
        return message.id


def outbox_row(app: Flask, message_id: str) -> OutboxMessage:
    with db.reading(app) as session:
        row = session.get(OutboxMessage, message_id)
        session.expunge(row)
        return row
