"""Security headers on every response (issue 12, hole 10), with Flask-Talisman.

* Content-Security-Policy: everything from this site only; scripts only with the request's nonce (the
  sandbox pages' and the confirm-before-cancel script carry ``nonce="{{ csp_nonce() }}"``; no inline
  event attributes), no plugins, no <base>, forms post only here, and ``frame-ancestors 'none'``
  (with X-Frame-Options: DENY for older browsers): no page can be framed for click-jacking.
  Inline ``<style>`` blocks and ``style=""`` stay allowed: the pages are server-rendered with escaped
  data, and a style cannot run code.
* X-Content-Type-Options: nosniff; Referrer-Policy: no-referrer (a driver's or shop's link carries its
  token in the path: a click on 「地図アプリで開く」 must not hand it to the map site).
* Cache-Control: no-store on every page the app renders (names, addresses, phones, run links): a shared
  or lost phone keeps no copy, and no proxy stores one. Static files are not concerned.

Talisman is told to leave the session cookie's settings alone (they are set with the staff sign-in) and
not to redirect to HTTPS (TLS ends at the proxy in front; ``PUBLIC_BASE_URL`` says https there).
"""

from __future__ import annotations

from flask import Flask, Response, request
from flask_talisman import Talisman

CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data:",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def init_app(app: Flask) -> None:
    Talisman(
        app,
        force_https=False,
        strict_transport_security=True,          # sent only on HTTPS requests
        frame_options="DENY",
        content_security_policy=CSP,
        content_security_policy_nonce_in=["script-src"],
        referrer_policy="no-referrer",
        x_content_type_options=True,
        # The cookie belongs to the sign-in: keep whatever it configured.
        session_cookie_secure=False,
        session_cookie_http_only=False,
        session_cookie_samesite=app.config.get("SESSION_COOKIE_SAMESITE"),
    )
    app.after_request(_no_store)


def _no_store(response: Response) -> Response:
    if request.endpoint != "static":
        response.headers["Cache-Control"] = "no-store"
    return response
