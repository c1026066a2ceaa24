"""The LINE webhook: ``POST /line/callback``. Thin on purpose (docs/design-notes.md, "Thin channels").

Verify ``X-Line-Signature`` on the raw body first (400 and nothing stored when it is missing or
wrong), parse into typed events, hand each to ``dispatch.process``, answer 200. An empty ``events``
list (the console's Verify button) is answered 200. Unknown event types are answered 200 and ignored.

Policy for LINE's Verify button (docs/design-notes.md, "LINE webhook"): an unsigned body is refused
(400) even when its ``events`` list is empty; a signed empty list is the documented check and gets 200.
If LINE's console ever shows Verify failing for that reason, the log line says "missing signature".
"""

from __future__ import annotations

import functools
import logging
from typing import Any, Callable

from accounts.security import csrf
from flask import Blueprint, Response, abort, current_app, make_response, request
from linebot.v3 import SignatureValidator

from bot import dispatch
from bot.events import BadBody, parse_body

log = logging.getLogger(__name__)

bp = Blueprint("line", __name__)

def channel_secret() -> str | None:
    """The real channel's secret; the sandbox's only while the sandbox runs. With neither, no event is
    accepted: the sandbox secret is written in this repository, so an instance without LINE credentials
    (production included) must not take events signed with it."""
    config = current_app.config
    if config.get("LINE_CHANNEL_SECRET"):
        return config["LINE_CHANNEL_SECRET"]
    return config["LINE_SANDBOX_SECRET"] if config.get("LINE_SANDBOX") else None


def line_signed(view: Callable[..., Response]) -> Callable[..., Response]:
    """Decorator for the webhook: the raw body must carry a valid ``X-Line-Signature`` for the channel's
    secret (403 when no channel is configured, 400 when missing or wrong; nothing is stored either
    way). The view gets the verified ``body`` text."""
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Response:
        secret = channel_secret()
        if secret is None:
            log.warning("LINE webhook rejected: no LINE channel is configured and the sandbox is off")
            abort(403, description="LINE channel not configured")
        # Raw text exactly as sent: re-serialised JSON would not match the signature. Its size is capped
        # by MAX_CONTENT_LENGTH (config.py): 413 before reading past it, Content-Length or chunks.
        body = request.get_data(as_text=True)
        signature = request.headers.get("X-Line-Signature", "")
        try:
            valid = bool(signature) and SignatureValidator(secret).validate(body, signature)
        except (ValueError, TypeError):
            valid = False
        if not valid:
            # The reason only, never the body (it holds personal data).
            log.warning("LINE webhook rejected: %s signature", "missing" if not signature else "bad")
            abort(400)
        return view(*args, body=body, **kwargs)
    return wrapped


@bp.post("/line/callback")
@csrf.exempt          # LINE's webhook: signature-checked instead
@line_signed
def callback(body: str) -> Response:
    """Receive a batch of LINE events."""
    try:
        _destination, events = parse_body(body)
    except BadBody:
        abort(400)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    failed = 0
    replies: list[Callable[[], str]] = []
    for incoming in events:
        try:
            dispatch.process(app, incoming, replies)
        except Exception:  # noqa: BLE001 - one bad event must not stop the others in the batch
            failed += 1
            log.exception("LINE event %s failed", incoming.event_id)
    # A failed event was rolled back (its id not recorded): 500 lets LINE redeliver it, and the
    # events that succeeded are skipped on redelivery because their ids are recorded.
    # The effects are committed; the replies go out on the reply pool while LINE gets its 200
    # (LINE counts a webhook slower than 2 s as a timeout). A refused reply becomes a push.
    for send in replies:
        dispatch.send_later(send)
    return make_response(("OK", 200) if not failed else ("error", 500))
