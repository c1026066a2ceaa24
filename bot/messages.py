"""Builders for the messages the bot sends, made of the SDK's pydantic models so the SDK validates them.

LINE limits that the SDK or the OpenAPI spec do not enforce are checked here (channels.md §1.3):
text ≤ 5,000 chars, ≤ 5 messages, quick reply ≤ 13 items, carousel ≤ 12 bubbles (≤ 50 KB, bubble
≤ 30 KB), postback data ≤ 300 chars, action labels ≤ 20 chars. Builders trim or split instead of
producing a body LINE would reject.
"""

from __future__ import annotations

import json
from typing import Any, Sequence
from urllib.parse import urlencode

from linebot.v3.messaging import (
    FlexContainer,
    FlexMessage,
    LocationAction,
    Message,
    MessageAction,
    PostbackAction,
    QuickReply,
    QuickReplyItem,
    TextMessage,
)

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


def postback(text: str, action: str, **params: Any) -> PostbackAction:
    """A button whose tap shows ``text`` as the user's own bubble, so the chat stays readable."""
    return PostbackAction(label=label(text), data=data(action, **params), displayText=text[:300])


def quick_reply(actions: Sequence[Any], *, back: PostbackAction | None = None,
                start_over: bool = True) -> QuickReply:
    """Quick-reply buttons, always ending in 戻る / 最初から; never more than 13."""
    tail: list[Any] = []
    if back is not None:
        tail.append(back)
    if start_over:
        tail.append(postback(START_OVER, "menu"))
    room = MAX_QUICK_REPLY - len(tail)
    items = [QuickReplyItem(action=a) for a in list(actions)[:room]] + [QuickReplyItem(action=a) for a in tail]
    if len(items) > MAX_QUICK_REPLY:
        raise LimitError("more than 13 quick replies")
    return QuickReply(items=items)


def text(body: str, *, quick: QuickReply | None = None) -> TextMessage:
    if len(body) > MAX_TEXT:
        body = body[: MAX_TEXT - 1] + "…"
    return TextMessage(text=body, quickReply=quick)


def location_action() -> LocationAction:
    return LocationAction(label="位置を送る")


def say(label_text: str) -> MessageAction:
    return MessageAction(label=label(label_text), text=label_text)


def _button(action: dict[str, Any], *, primary: bool = False) -> dict[str, Any]:
    return {"type": "button", "style": "primary" if primary else "secondary", "height": "md",
            "margin": "sm", "action": action}


def pb_dict(text_: str, action: str, **params: Any) -> dict[str, Any]:
    """A postback action as Flex JSON (camelCase)."""
    return {"type": "postback", "label": label(text_), "data": data(action, **params),
            "displayText": text_[:300]}


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


def flex(alt_text: str, bubbles: Sequence[dict[str, Any]], *, quick: QuickReply | None = None) -> FlexMessage:
    """A bubble, or a carousel of at most 12; size limits checked (the SDK does not check them)."""
    if not bubbles:
        raise LimitError("a Flex message needs at least one bubble")
    if len(bubbles) > MAX_BUBBLES:
        raise LimitError(f"{len(bubbles)} bubbles > {MAX_BUBBLES}")
    for b in bubbles:
        if len(json.dumps(b, ensure_ascii=False).encode()) > MAX_BUBBLE_BYTES:
            raise LimitError("bubble over 30 KB")
    container: dict[str, Any] = bubbles[0] if len(bubbles) == 1 else {"type": "carousel", "contents": list(bubbles)}
    if len(json.dumps(container, ensure_ascii=False).encode()) > MAX_CAROUSEL_BYTES:
        raise LimitError("carousel over 50 KB")
    return FlexMessage(altText=alt_text[:400], contents=FlexContainer.from_dict(container), quickReply=quick)


def as_dicts(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Wire JSON (camelCase) for the outbox payload ``{"messages": [...]}``."""
    return [m.to_dict() for m in messages]


def check(messages: Sequence[Message]) -> list[Message]:
    """The last gate before a reply or push: at most five messages, each within LINE's limits.

    Reads the models' attributes instead of serialising them (a Flex ``to_dict`` costs milliseconds
    and the SDK serialises once more when it sends); the builders above already enforce the rest.
    """
    if len(messages) > MAX_MESSAGES:
        raise LimitError(f"{len(messages)} messages > {MAX_MESSAGES}")
    for message in messages:
        if isinstance(message, TextMessage) and len(message.text) > MAX_TEXT:
            raise LimitError("text over 5000 chars")
        quick = getattr(message, "quick_reply", None)
        if quick is not None and len(quick.items or []) > MAX_QUICK_REPLY:
            raise LimitError("more than 13 quick replies")
    return list(messages)
