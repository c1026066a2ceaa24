"""Otodoke (お届け): the app factory."""

from __future__ import annotations

import logging
import os
from typing import Any, Mapping

from flask import Flask

import bot
import voice
from accounts import security as account_security
from accounts import views as account_views
from core import security_headers
from core.clock import CLOCK_KEY, Clock, FixedClock, SystemClock, parse_jst
from core.config import channel_statuses, check_production, from_env
from core.db import db as _db
from core.inputs import BoundedIntConverter, refuse_oversize_stream
from core.logs import install_werkzeug_filter
from core.surfaces import add_surface
from delivery import privacy as delivery_privacy
from driver import views as driver_views
from orders import privacy as orders_privacy
from otodoke import commands, home, jobs
from outbox import registry as outbox_registry
from residents import privacy
from shop_portal import csv_pages, photos, products, sales
from shop_portal import views as shop_views
from staff import master as staff_master
from staff import office, phone_orders, runs
from staff import privacy as staff_privacy
from staff import report as staff_report
from staff import views as staff_views

log = logging.getLogger("otodoke")


def create_app(config: Mapping[str, Any] | None = None, *, clock: Clock | None = None) -> Flask:
    """Build the app: defaults from the environment, then the test/caller override."""
    app = Flask(__name__, instance_relative_config=True)
    # Before any blueprint adds a route: every ``<int:…>`` id is bounded to the database's integer range.
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
    privacy.init_app(app, (orders_privacy.PART, delivery_privacy.PART))

    security_headers.init_app(app)
    install_werkzeug_filter()

    # The outbox senders registry (channel -> Sender; channel packages add theirs) and the job queue,
    # whose after-commit hook wakes the outbox drain.
    outbox_registry.init_app(app)
    jobs.init_app(app)

    # Personal accounts: sessions (Flask-Login), CSRF on every form (Flask-WTF), sign-in throttling
    # (Flask-Limiter), the proxy fix when TRUSTED_PROXIES is set; then the sign-in and accounts pages.
    account_security.init_app(app)
    app.register_blueprint(account_views.bp)

    app.register_blueprint(home.bp)

    # Staff pages (with the route sheets), the drivers' run pages, the shops' pages.
    app.register_blueprint(staff_views.bp)
    app.register_blueprint(office.bp)
    app.register_blueprint(phone_orders.bp)
    app.register_blueprint(runs.bp)
    app.register_blueprint(staff_privacy.bp)
    app.register_blueprint(staff_master.bp)
    app.register_blueprint(staff_report.bp)
    app.register_blueprint(driver_views.bp)
    app.register_blueprint(shop_views.bp)
    app.register_blueprint(shop_views.link_bp)
    for shop_bp in (products.bp, csv_pages.bp, sales.bp, photos.bp):
        app.register_blueprint(shop_bp)
    add_surface(app, "/staff/", "担当者ページ（注文・配達計画・ルート表・見守り）", "市・運営の担当者")
    add_surface(app, "/shop/", "お店のページ（商品・在庫・値段・CSV・集荷リスト・売上）", "お店（ログイン）")

    # The LINE bot: webhook, rich menu, sender (when configured or sandboxed).
    bot.init_app(app)

    # The phone line: Twilio webhooks, SMS/voice senders (when configured or sandboxed).
    voice.init_app(app)

    # The browser sandboxes and fake LINE/Twilio APIs, only when bot/voice turned a sandbox on.
    if app.config.get("LINE_SANDBOX") or app.config.get("TWILIO_SANDBOX"):
        import sandbox   # lazy: the sandboxes and fakes load only when one is on (tests/test_layout.py)
        sandbox.init_app(app)

    commands.init_app(app)

    for status in channel_statuses(app.config):
        if not status.configured:
            log.warning("%s channel not configured (missing %s): it will not send anything",
                        status.name, ", ".join(status.missing))
    return app

