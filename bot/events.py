"""Typed webhook events → ``Incoming``, the small plain record the conversation layer understands.

Parsing goes through the SDK's models (``Event.from_dict``) one event at a time, so a malformed or new
event type becomes ``kind="other"`` (answered 200, nothing done) instead of failing the whole batch.
"""

from __future__ import annotations

import json
import logging
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


def parse_body(body: str) -> tuple[str | None, list[Incoming]]:
    """Parse a verified body into (destination, events). Raises ``BadBody`` on a non-webhook body."""
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise BadBody("not JSON") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
        raise BadBody("no events list")
    return payload.get("destination"), [translate(raw) for raw in payload["events"] if isinstance(raw, dict)]


def translate(raw: dict[str, Any]) -> Incoming:
    """One event dict → ``Incoming``; anything we do not handle becomes kind "other"."""
    event_id = str(raw.get("webhookEventId") or "")
    base = dict(event_id=event_id, user_id=None, reply_token=None,
                timestamp_ms=int(raw.get("timestamp") or 0),
                redelivery=bool((raw.get("deliveryContext") or {}).get("isRedelivery")))
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
