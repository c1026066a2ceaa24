"""The LINE bot: webhook, conversation, outbound sender and rich menu (its sandbox is in ``sandbox/``)."""

from __future__ import annotations

import logging

from flask import Flask

from bot import line_client, views
from bot.richmenu import richmenu_command
from bot.sender import LineSender
from core.config import sandbox_enabled

SANDBOX_SECRET = "sandbox-channel-secret"
SANDBOX_API_PATH = "/sandbox/line-api"


def init_app(app: Flask) -> None:
    """Register the webhook; turn the sandbox on (default when no real LINE credentials, except in
    tests, which opt in); register the LINE sender when LINE is configured or sandboxed."""
    config = app.config
    real = bool(config.get("LINE_CHANNEL_SECRET") and config.get("LINE_CHANNEL_ACCESS_TOKEN"))
    # Tests default to off so that other packages' tests never see a LINE sender they did not ask for.
    sandbox = sandbox_enabled(config, "LINE_SANDBOX", real_channel=real)
    config["LINE_SANDBOX"] = sandbox
    config.setdefault("LINE_SANDBOX_SECRET", SANDBOX_SECRET)
    app.register_blueprint(views.bp)
    app.cli.add_command(richmenu_command)
    if sandbox:
        # The sandbox's pages and fake LINE API are registered by the app factory (sandbox/__init__.py).
        if not config.get("LINE_API_HOST"):
            # The SDK talks HTTP to the fake inside this app, so the worker process's pushes land here too.
            config["LINE_API_HOST"] = config["PUBLIC_BASE_URL"].rstrip("/") + SANDBOX_API_PATH
        logging.getLogger("otodoke").warning(
            "LINE sandbox on: nothing goes to real LINE; replies and pushes go to %s "
            "(set PUBLIC_BASE_URL if the app listens elsewhere); try it at /sandbox/line",
            config["LINE_API_HOST"])
    if real or sandbox:
        line_client.install(app)
        api = line_client.line_api(app)
        assert api is not None
        # The outbox's senders registry (outbox/registry.py): channel -> Sender.
        app.extensions.setdefault("otodoke.senders", {})["line"] = LineSender(api)
