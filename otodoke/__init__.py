"""Otodoke (お届け): the app factory."""

from __future__ import annotations

import logging
import os
from typing import Any, Mapping

from flask import Flask

from core.clock import CLOCK_KEY, Clock, FixedClock, SystemClock, parse_jst
from core.config import channel_statuses, check_production, from_env
from core.db import db as _db
from core.surfaces import add_surface

log = logging.getLogger("otodoke")


def create_app(config: Mapping[str, Any] | None = None, *, clock: Clock | None = None) -> Flask:
    """Build the app: defaults from the environment, then the test/caller override."""
    app = Flask(__name__, instance_relative_config=True)
    # Before any blueprint adds a route: every ``<int:…>`` id is bounded to the database's integer range.
    from core.inputs import BoundedIntConverter, refuse_oversize_stream
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
    app.extensions[CLOCK_KEY] = clock

    _db.init_app(app)

    # A resident's personal data for the APPI export, erasure and retention (residents/privacy.py),
    # with the parts the domains above residents hold.
    from delivery import privacy as delivery_privacy
    from orders import privacy as orders_privacy
    from residents import privacy
    privacy.init_app(app, (orders_privacy.PART, delivery_privacy.PART))

    from core import security_headers
    security_headers.init_app(app)
    from core.logs import install_werkzeug_filter
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

    from otodoke import home
    app.register_blueprint(home.bp)

    # Staff pages (with the route sheets), the drivers' run pages, the shops' pages.
    from staff import office, phone_orders, runs
    from staff import views as staff_views
    app.register_blueprint(staff_views.bp)
    app.register_blueprint(office.bp)
    app.register_blueprint(phone_orders.bp)
    app.register_blueprint(runs.bp)
    from staff import privacy as staff_privacy
    app.register_blueprint(staff_privacy.bp)
    from staff import master as staff_master
    app.register_blueprint(staff_master.bp)
    from staff import report as staff_report
    app.register_blueprint(staff_report.bp)
    from driver import views as driver_views
    app.register_blueprint(driver_views.bp)
    from shop_portal import views as shop_views
    app.register_blueprint(shop_views.bp)
    app.register_blueprint(shop_views.link_bp)
    from shop_portal import csv_pages, photos, products, sales
    for shop_bp in (products.bp, csv_pages.bp, sales.bp, photos.bp):
        app.register_blueprint(shop_bp)
    add_surface(app, "/staff/", "担当者ページ（注文・配達計画・ルート表・見守り）", "市・運営の担当者")
    add_surface(app, "/shop/", "お店のページ（商品・在庫・値段・CSV・集荷リスト・売上）", "お店（ログイン）")

    # The LINE bot: webhook, rich menu, sender (when configured or sandboxed).
    import bot
    bot.init_app(app)

    # The phone line: Twilio webhooks, SMS/voice senders (when configured or sandboxed).
    import voice
    voice.init_app(app)

    # The browser sandboxes and fake LINE/Twilio APIs, only when bot/voice turned a sandbox on.
    if app.config.get("LINE_SANDBOX") or app.config.get("TWILIO_SANDBOX"):
        import sandbox
        sandbox.init_app(app)

    from otodoke import commands
    commands.init_app(app)

    for status in channel_statuses(app.config):
        if not status.configured:
            log.warning("%s channel not configured (missing %s): it will not send anything",
                        status.name, ", ".join(status.missing))
    return app

