"""Checking that a webhook really comes from Twilio (``X-Twilio-Signature``).

Twilio signs the URL *it* called (scheme, host, path and query) plus the sorted form fields with the
account's Auth Token. Behind a TLS-terminating proxy ``request.url`` is the inside URL
(http://10.0.0.5:8000/…), which never validates, so the URL is rebuilt from ``PUBLIC_BASE_URL``.

The sandbox page (``/sandbox/phone``) acts as Twilio with a token of its own, derived from the app's
secret key. It is accepted only while ``TWILIO_SANDBOX`` is on, which it never is by default in
production.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
from typing import Any, Callable, Mapping

from flask import Request, abort, current_app, request
from twilio.request_validator import RequestValidator

log = logging.getLogger("otodoke.voice")


def sandbox_token(config: Mapping[str, Any]) -> str:
    key = str(config.get("SECRET_KEY") or "").encode("utf-8")
    return hmac.new(key, b"otodoke-twilio-sandbox", hashlib.sha256).hexdigest()[:32]


def accepted_tokens(config: Mapping[str, Any]) -> list[str]:
    tokens = []
    if config.get("TWILIO_AUTH_TOKEN"):
        tokens.append(str(config["TWILIO_AUTH_TOKEN"]))
    if config.get("TWILIO_SANDBOX"):
        tokens.append(sandbox_token(config))
    return tokens


def public_url(config: Mapping[str, Any], request: Request) -> str:
    """The URL Twilio called: the configured public base, the path and the raw query string."""
    base = str(config.get("PUBLIC_BASE_URL") or "").rstrip("/")
    url = base + request.path
    if request.query_string:
        url += "?" + request.query_string.decode("latin-1")
    return url


def is_from_twilio(config: Mapping[str, Any], request: Request) -> bool:
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        return False
    url = public_url(config, request)
    return any(RequestValidator(token).validate(url, request.form, signature)
               for token in accepted_tokens(config))


def sign(token: str, url: str, params: Mapping[str, str]) -> str:
    """The signature Twilio would send (for the test call simulator and the benchmark)."""
    return RequestValidator(token).compute_signature(url, dict(params))


def twilio_signed(view: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator for every Twilio webhook: a valid ``X-Twilio-Signature`` for the public URL (else 403,
    nothing changes) and a plausible ``CallSid`` (else 400)."""
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not is_from_twilio(current_app.config, request):
            log.warning("voice webhook with a missing or wrong X-Twilio-Signature: %s", request.path)
            abort(403)
        call_sid = request.form.get("CallSid", "")
        if not call_sid or len(call_sid) > 64:
            abort(400, description="CallSid missing or too long")
        return view(*args, **kwargs)
    return wrapped
