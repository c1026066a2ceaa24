"""Typed webhook events → ``Incoming``, the small plain record the conversation layer understands.

Parsing goes through the SDK's models (``Event.from_dict``) one event at a time, so a malformed or new
event type becomes ``kind="other"`` (answered 200, nothing done) instead of failing the whole batch.

This is the one place a LINE body is checked (issue 12, hole 11). A body that is not a webhook payload
(not JSON, nested deeper than any LINE event, no ``events`` list) is ``BadBody`` (400). An event whose
envelope has the wrong shape (``timestamp:"abc"`` or ``1e400``, ``deliveryContext:[1]``, an id longer
than its column, a NUL in any string) is ignored with the batch's 200: LINE would redeliver the same
bytes, so a 500 would only repeat the failure.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from linebot.v3.webhooks import (
    Event,
    FollowEvent,
    LocationMessageContent,
    MessageEvent,
    PostbackEvent,
    TextMessageContent,
    UnfollowEvent,
    UserSource,
)

from core.inputs import has_nul

log = logging.getLogger(__name__)


class BadBody(ValueError):
    """The body is not a LINE webhook payload at all (not JSON, no ``events`` list)."""


@dataclass(frozen=True)
class Incoming:
    event_id: str
    kind: str                       # follow | unfollow | text | postback | location | other
    user_id: str | None
    reply_token: str | None
    timestamp_ms: int
    redelivery: bool
    text: str = ""
    data: dict[str, str] = field(default_factory=dict)    # parsed postback data
    params: dict[str, str] = field(default_factory=dict)  # datetime picker results
    lat: float | None = None
    lon: float | None = None
    address: str = ""


# A LINE event is nested five or six levels deep (body → events → event → message → emojis → item).
MAX_DEPTH = 16
# Column sizes: processed_events.event_id is 128 characters, residents.line_user_id 64.
MAX_EVENT_ID = 128
MAX_USER_ID = 64
# Epoch milliseconds up to the year 2255; JSON numbers past 2^53 are not exact anyway.
MAX_TIMESTAMP_MS = 2**53


_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")


def _depth_ok(text: str) -> bool:
    """Bracket depth outside strings at most ``MAX_DEPTH``, checked before ``json.loads`` (which recurses
    once per level: a 200k-deep body hit the recursion limit) and before anything walks the result.
    The regexes leave only the brackets, so the Python loop runs over a few dozen characters."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return True
    depth = 0
    for char in _NOT_BRACKETS.sub("", _STRINGS.sub("", text)):
        if char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return False
        else:
            depth -= 1
    return True


def parse_body(body: str) -> tuple[str | None, list[Incoming]]:
    """Parse a verified body into (destination, events). Raises ``BadBody`` on a non-webhook body."""
    if not _depth_ok(body):
        raise BadBody("nested too deeply")
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise BadBody("not JSON") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
        raise BadBody("no events list")
    destination = payload.get("destination")
    return (destination if isinstance(destination, str) else None,
            [translate(raw) for raw in payload["events"] if isinstance(raw, dict)])


def envelope_problem(raw: dict[str, Any]) -> str | None:
    """What is wrong with an event's envelope (the fields every event shares), or None."""
    if has_nul(raw):
        return "NUL character"
    event_id = raw.get("webhookEventId")
    if event_id is not None and not (isinstance(event_id, str) and len(event_id) <= MAX_EVENT_ID):
        return "webhookEventId"
    timestamp = raw.get("timestamp", 0)
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) or not 0 <= timestamp <= MAX_TIMESTAMP_MS:
        return "timestamp"
    context = raw.get("deliveryContext", {})
    if not isinstance(context, dict) or not isinstance(context.get("isRedelivery", False), bool):
        return "deliveryContext"
    source = raw.get("source", {})
    if not isinstance(source, dict):
        return "source"
    user_id = source.get("userId")
    if user_id is not None and not (isinstance(user_id, str) and 0 < len(user_id) <= MAX_USER_ID):
        return "source.userId"
    reply_token = raw.get("replyToken")
    if reply_token is not None and not (isinstance(reply_token, str) and len(reply_token) <= 256):
        return "replyToken"
    return None


def translate(raw: dict[str, Any]) -> Incoming:
    """One event dict → ``Incoming``; anything we do not handle (or cannot trust) becomes kind "other"."""
    problem = envelope_problem(raw)
    if problem:
        log.warning("LINE event ignored: malformed %s", problem)
        return Incoming(event_id="", kind="other", user_id=None, reply_token=None, timestamp_ms=0,
                        redelivery=False)
    event_id = raw.get("webhookEventId") or ""
    base = dict(event_id=event_id, user_id=None, reply_token=None,
                timestamp_ms=raw.get("timestamp") or 0,
                redelivery=(raw.get("deliveryContext") or {}).get("isRedelivery") is True)
    try:
        event = Event.from_dict(raw)
    except Exception:  # noqa: BLE001 - the SDK raises assorted errors for unknown or new shapes
        log.info("unhandled LINE event type %r", raw.get("type"))
        return Incoming(kind="other", **base)
    source = getattr(event, "source", None)
    if isinstance(source, UserSource):
        base["user_id"] = source.user_id
    base["reply_token"] = getattr(event, "reply_token", None)
    if not event_id or base["user_id"] is None:
        # Group/room chats and events without an id are not part of this service.
        return Incoming(kind="other", **base)
    if isinstance(event, FollowEvent):
        return Incoming(kind="follow", **base)
    if isinstance(event, UnfollowEvent):
        return Incoming(kind="unfollow", **base)
    if isinstance(event, PostbackEvent):
        data = dict(parse_qsl(event.postback.data or "", keep_blank_values=True))
        params = {k: str(v) for k, v in (event.postback.params or {}).items()}
        return Incoming(kind="postback", data=data, params=params, **base)
    if isinstance(event, MessageEvent):
        message = event.message
        if isinstance(message, TextMessageContent):
            return Incoming(kind="text", text=message.text or "", **base)
        if isinstance(message, LocationMessageContent):
            return Incoming(kind="location", lat=message.latitude, lon=message.longitude,
                            address=message.address or "", **base)
    return Incoming(kind="other", **base)
