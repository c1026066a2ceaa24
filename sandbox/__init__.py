"""Try the service without accounts: the browser sandboxes for LINE and the phone line, and the fake LINE
and Twilio APIs they (and the tests) talk to.

Nothing in the product imports this package: the app factory registers it only when a sandbox is on
(``LINE_SANDBOX`` / ``TWILIO_SANDBOX``, decided by ``bot.init_app`` and ``voice.init_app``).
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    if app.config.get("LINE_SANDBOX"):
        from sandbox import line
        line.init_app(app)
    if app.config.get("TWILIO_SANDBOX"):
        from sandbox import phone
        phone.init_app(app)
