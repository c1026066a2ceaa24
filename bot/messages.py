"""Builders for the messages the bot sends, as LINE's wire JSON (camelCase dicts, ready to send).

Plain dicts rather than the SDK's pydantic models: building the confirmation's model tree took 0.3 ms
and serialising it in the reply call 0.7 ms more, about a fifth of a webhook event's CPU when measured
(now 0.02 ms to build). The models still judge every body in the tests: the fake LINE API validates
each reply and push with ``ReplyMessageRequest`` / ``PushMessageRequest`` and answers 400 like LINE
would, and tests/test_line_messages.py checks the builders' output against them directly.

LINE limits that the SDK or the OpenAPI spec do not enforce are checked here (docs/design-notes.md, "LINE webhook"):
text ≤ 5,000 chars, ≤ 5 messages, quick reply ≤ 13 items, carousel ≤ 12 bubbles (≤ 50 KB, bubble
≤ 30 KB), postback data ≤ 300 chars, action labels ≤ 20 chars. Builders trim or split instead of
producing a body LINE would reject.
"""

from __future__ import annotations

import json
from typing import Any, Sequence
from urllib.parse import urlencode

# One message / action / quick-reply object exactly as LINE's API takes it.
Message = dict[str, Any]
Action = dict[str, Any]
QuickReply = dict[str, Any]

MAX_TEXT = 5000
MAX_MESSAGES = 5
MAX_QUICK_REPLY = 13
MAX_BUBBLES = 12
MAX_DATA = 300
MAX_LABEL = 20
MAX_CAROUSEL_BYTES = 50_000
MAX_BUBBLE_BYTES = 30_000

# Shown on every screen so nobody gets stuck (product.md: a human at any point).
BACK = "戻る"
START_OVER = "最初から"


class LimitError(ValueError):
    """A message would break a documented LINE limit; a programming error, caught by the tests."""


def data(action: str, **params: Any) -> str:
    """Postback data: a short query string (``a=add&p=12&q=3``), never over 300 chars."""
    text = urlencode({"a": action, **{k: v for k, v in params.items() if v is not None}})
    if len(text) > MAX_DATA:
        raise LimitError(f"postback data {len(text)} chars > {MAX_DATA}")
    return text


def label(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def postback(text: str, action: str, **params: Any) -> Action:
    """A button whose tap shows ``text`` as the user's own bubble, so the chat stays readable."""
    return postback_with_data(text, data(action, **params))


def postback_with_data(text: str, data_: str) -> Action:
    """A postback button with ready-made data (e.g. a remembered 戻る target)."""
    if len(data_) > MAX_DATA:
        raise LimitError(f"postback data {len(data_)} chars > {MAX_DATA}")
    return {"type": "postback", "label": label(text), "data": data_, "displayText": text[:300]}


def quick_reply(actions: Sequence[Action], *, back: Action | None = None,
                start_over: bool = True) -> QuickReply:
    """Quick-reply buttons, always ending in 戻る / 最初から; never more than 13."""
    tail: list[Action] = []
    if back is not None:
        tail.append(back)
    if start_over:
        tail.append(postback(START_OVER, "menu"))
    room = MAX_QUICK_REPLY - len(tail)
    items = [{"type": "action", "action": a} for a in [*list(actions)[:room], *tail]]
    if len(items) > MAX_QUICK_REPLY:
        raise LimitError("more than 13 quick replies")
    return {"items": items}


def text(body: str, *, quick: QuickReply | None = None) -> Message:
    if len(body) > MAX_TEXT:
        body = body[: MAX_TEXT - 1] + "…"
    message: Message = {"type": "text", "text": body}
    if quick is not None:
        message["quickReply"] = quick
    return message


def location_action() -> Action:
    return {"type": "location", "label": "位置を送る"}


def say(label_text: str) -> Action:
    return {"type": "message", "label": label(label_text), "text": label_text}


def _button(action: dict[str, Any], *, primary: bool = False) -> dict[str, Any]:
    return {"type": "button", "style": "primary" if primary else "secondary", "height": "md",
            "margin": "sm", "action": action}


def bubble(title: str, lines: Sequence[str], buttons: Sequence[dict[str, Any]], *,
           image_url: str | None = None) -> dict[str, Any]:
    """One large, plain card: a bold title, a few lines of big text, big buttons."""
    body: list[dict[str, Any]] = [{"type": "text", "text": title[:100], "weight": "bold", "size": "xl",
                                   "wrap": True}]
    body += [{"type": "text", "text": line[:300], "size": "lg", "wrap": True, "margin": "md"}
             for line in lines if line]
    card: dict[str, Any] = {
        "type": "bubble", "size": "kilo",
        "body": {"type": "box", "layout": "vertical", "contents": body},
    }
    if buttons:
        card["footer"] = {"type": "box", "layout": "vertical",
                          "contents": [_button(b, primary=(i == 0)) for i, b in enumerate(buttons)]}
    if image_url and image_url.startswith("https://"):
        card["hero"] = {"type": "image", "url": image_url, "size": "full", "aspectMode": "cover",
                        "aspectRatio": "20:13"}
    return card


def flex(alt_text: str, bubbles: Sequence[dict[str, Any]], *, quick: QuickReply | None = None) -> Message:
    """A bubble, or a carousel of at most 12; size limits checked (the SDK does not check them)."""
    if not bubbles:
        raise LimitError("a Flex message needs at least one bubble")
    if len(bubbles) > MAX_BUBBLES:
        raise LimitError(f"{len(bubbles)} bubbles > {MAX_BUBBLES}")
    sizes = [len(json.dumps(b, ensure_ascii=False).encode()) for b in bubbles]
    if max(sizes) > MAX_BUBBLE_BYTES:
        raise LimitError("bubble over 30 KB")
    container: dict[str, Any] = bubbles[0] if len(bubbles) == 1 else {"type": "carousel", "contents": list(bubbles)}
    total = sizes[0] if len(bubbles) == 1 else len(json.dumps(container, ensure_ascii=False).encode())
    if total > MAX_CAROUSEL_BYTES:
        raise LimitError("carousel over 50 KB")
    message: Message = {"type": "flex", "altText": alt_text[:400], "contents": container}
    if quick is not None:
        message["quickReply"] = quick
    return message


def as_dicts(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Wire JSON for the outbox payload ``{"messages": [...]}`` (the messages already are)."""
    return [dict(m) for m in messages]


def check(messages: Sequence[Message]) -> list[Message]:
    """The last gate before a reply or push: at most five messages, each within LINE's limits
    (the builders above already enforce the rest)."""
    if len(messages) > MAX_MESSAGES:
        raise LimitError(f"{len(messages)} messages > {MAX_MESSAGES}")
    for message in messages:
        if message.get("type") == "text" and len(message.get("text", "")) > MAX_TEXT:
            raise LimitError("text over 5000 chars")
        quick = message.get("quickReply")
        if quick is not None and len(quick.get("items") or []) > MAX_QUICK_REPLY:
            raise LimitError("more than 13 quick replies")
    return list(messages)
