"""The LINE webhook: ``POST /line/callback``. Thin on purpose (house style §7).

Verify ``X-Line-Signature`` on the raw body first (400 and nothing stored when it is missing or
wrong), parse into typed events, hand each to ``dispatch.process``, answer 200. An empty ``events``
list (the console's Verify button) is answered 200. Unknown event types are answered 200 and ignored.
"""

from __future__ import annotations

import logging

from flask import Blueprint, abort, current_app, request
from linebot.v3 import SignatureValidator

from bot import dispatch
from bot.events import BadBody, parse_body

log = logging.getLogger(__name__)

bp = Blueprint("line", __name__)

# A webhook body bigger than this is not from LINE (a batch of events is a few KB).
MAX_BODY_BYTES = 1_000_000


def channel_secret() -> str:
    return current_app.config.get("LINE_CHANNEL_SECRET") or current_app.config["LINE_SANDBOX_SECRET"]


@bp.post("/line/callback")
def callback() -> tuple[str, int]:
    """Receive a batch of LINE events."""
    if (request.content_length or 0) > MAX_BODY_BYTES:
        abort(400)
    # Raw text exactly as sent: re-serialised JSON would not match the signature.
    body = request.get_data(as_text=True)
    signature = request.headers.get("X-Line-Signature", "")
    try:
        valid = bool(signature) and SignatureValidator(channel_secret()).validate(body, signature)
    except (ValueError, TypeError):
        valid = False
    if not valid:
        # The reason only, never the body (it holds personal data).
        log.warning("LINE webhook rejected: %s signature", "missing" if not signature else "bad")
        abort(400)
    try:
        _destination, events = parse_body(body)
    except BadBody:
        abort(400)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    failed = 0
    for incoming in events:
        try:
            dispatch.process(app, incoming)
        except Exception:  # noqa: BLE001 - one bad event must not stop the others in the batch
            failed += 1
            log.exception("LINE event %s failed", incoming.event_id)
    # A failed event was rolled back (its id not recorded): 500 lets LINE redeliver it, and the
    # events that succeeded are skipped on redelivery because their ids are recorded.
    return ("OK", 200) if not failed else ("error", 500)
