"""Otodoke (お届け): the app factory."""

from __future__ import annotations

import logging
import os
from typing import Any, Mapping

from flask import Flask

from otodoke.clock import Clock, FixedClock, SystemClock, parse_jst
from otodoke.config import channel_statuses, check_production, from_env
from otodoke.db import db as _db

log = logging.getLogger("otodoke")


def create_app(config: Mapping[str, Any] | None = None, *, clock: Clock | None = None) -> Flask:
    """Build the app: defaults from the environment, then the test/caller override."""
    app = Flask(__name__, instance_relative_config=True)
    # Before any blueprint adds a route: every ``<int:…>`` id is bounded to the database's integer range.
    from otodoke.inputs import BoundedIntConverter, refuse_oversize_stream
    app.url_map.converters["int"] = BoundedIntConverter
    app.before_request(refuse_oversize_stream)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(from_env(os.environ, app.instance_path))
    if config:
        app.config.update(config)
    check_production(app.config)

    if clock is None:
        frozen = app.config.get("FROZEN_NOW")
        clock = FixedClock(parse_jst(frozen)) if frozen else SystemClock()
    app.extensions["otodoke.clock"] = clock

    _db.init_app(app)

    from otodoke import security_headers
    security_headers.init_app(app)
    from otodoke.logs import install_werkzeug_filter
    install_werkzeug_filter()

    # The outbox senders registry (channel -> Sender; channel packages add theirs) and the job queue,
    # whose after-commit hook wakes the outbox drain.
    from outbox import registry as outbox_registry
    outbox_registry.init_app(app)
    from otodoke import jobs
    jobs.init_app(app)

    # Personal accounts: sessions (Flask-Login), CSRF on every form (Flask-WTF), sign-in throttling
    # (Flask-Limiter), the proxy fix when TRUSTED_PROXIES is set; then the sign-in and accounts pages.
    from accounts import security as account_security
    from accounts import views as account_views
    account_security.init_app(app)
    app.register_blueprint(account_views.bp)

    from otodoke import views
    app.register_blueprint(views.bp)

    # Staff pages, the drivers' run pages and the printable route sheets.
    from delivery import views as delivery_views
    from staff import views as staff_views
    app.register_blueprint(staff_views.bp)
    from staff import office
    app.register_blueprint(office.bp)
    app.register_blueprint(delivery_views.bp)
    from shops import views as shop_views
    app.register_blueprint(shop_views.bp)
    views.add_surface(app, "/staff/", "担当者ページ（注文・配達計画・ルート表・見守り）", "市・運営の担当者")

    # The LINE bot: webhook, sender (when configured or sandboxed) and the /sandbox/line page.
    import bot
    bot.init_app(app)

    # The phone line: Twilio webhooks, SMS/voice senders (when configured or sandboxed), /sandbox/phone.
    import voice
    voice.init_app(app)

    from otodoke import cli
    cli.init_app(app)

    for status in channel_statuses(app.config):
        if not status.configured:
            log.warning("%s channel not configured (missing %s): it will not send anything",
                        status.name, ", ".join(status.missing))
    return app


def get_clock(app: Flask | None = None) -> Clock:
    from flask import current_app
    return (app or current_app).extensions["otodoke.clock"]
