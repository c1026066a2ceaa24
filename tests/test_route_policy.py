"""Every route has a declared access policy, and anonymous requests get what the policy says.

A new route without a row here fails the first test (default deny): whoever adds a page must decide
who may open it.
"""

from __future__ import annotations

import re

import pytest

PUBLIC = "public"              # no personal data
WEBHOOK = "webhook"            # refused without the provider's signature
STAFF = "staff"                # sign-in required (the role is checked by tests/test_access_matrix.py)
DRIVER = "driver-link"         # a signed, expiring link is the credential
SHOP = "shop-link"             # a signed, expiring link (sent by SMS) is the credential
SANDBOX = "sandbox"            # only exists while the sandbox is on (never by default in production)

POLICY = {
    "static": PUBLIC,
    "home.index": PUBLIC,
    "home.health": PUBLIC,
    "line.callback": WEBHOOK,
    "voice.incoming": WEBHOOK,
    "voice.gather_action": WEBHOOK,
    "voice.status": WEBHOOK,
    "voice.dial_status": WEBHOOK,
    "voice.recording": WEBHOOK,
    "voice.fallback": WEBHOOK,
    "voice.fallback_done": WEBHOOK,
    "voice.eta_answer": WEBHOOK,
    "voice.messages": STAFF,
    "voice.message_handled": STAFF,
    "staff.dashboard": STAFF,
    "accounts.login": PUBLIC,
    "accounts.totp": PUBLIC,            # only after the password (a pending sign-in in the session)
    "accounts.enrol": PUBLIC,           # likewise
    "accounts.enrol_now": PUBLIC,       # signed-in accounts only; otherwise back to the sign-in page
    "accounts.logout": PUBLIC,
    "accounts.accept": PUBLIC,          # the invitation link is the credential
    "accounts.accounts_page": STAFF,
    "accounts.invite": STAFF,
    "accounts.set_role": STAFF,
    "accounts.disable": STAFF,
    "accounts.enable": STAFF,
    "accounts.audit_page": STAFF,
    "shop.home": STAFF,                 # a signed-in shop account
    "shop.picking": STAFF,
    "shop_products.index": STAFF,       # the shop pages: a signed-in shop account, its own shop only
    "shop_products.adjust": STAFF,
    "shop_products.set_stock": STAFF,
    "shop_products.set_price": STAFF,
    "shop_products.sold_out": STAFF,
    "shop_products.back": STAFF,
    "shop_products.new": STAFF,
    "shop_csv.export": STAFF,
    "shop_csv.upload": STAFF,
    "shop_csv.preview": STAFF,
    "shop_csv.apply": STAFF,
    "shop_sales.sales": STAFF,
    "shop_photos.photo": PUBLIC,        # catalogue pictures (also in residents' LINE cards), no personal data
    "driver.home": STAFF,      # a signed-in driver account
    "office.new_resident": STAFF,
    "office.orders": STAFF,
    "office.cancel": STAFF,
    "phone_orders.residents": STAFF,
    "phone_orders.resident": STAFF,
    "phone_orders.order_entry": STAFF,
    "phone_orders.order_quote": STAFF,
    "phone_orders.order_confirm": STAFF,
    "phone_orders.order_detail": STAFF,
    "phone_orders.order_change": STAFF,
    "phone_orders.move_van": STAFF,
    "phone_orders.unpin": STAFF,
    "master.index": STAFF,               # change pages: admin and coordinator (tests/test_access_matrix.py)
    "master.vehicles": STAFF,
    "master.vehicle": STAFF,
    "master.drivers": STAFF,
    "master.driver": STAFF,
    "master.shops": STAFF,
    "master.shop": STAFF,
    "master.products": STAFF,
    "master.product": STAFF,
    "master.districts": STAFF,
    "master.district": STAFF,
    "report.page": STAFF,
    "report.csv_file": STAFF,
    "staff_privacy.find": STAFF,           # admin and coordinator only (tests/test_privacy.py)
    "staff_privacy.resident": STAFF,
    "staff_privacy.export": STAFF,
    "staff_privacy.erase": STAFF,
    "staff.plan_now": STAFF,
    "staff.plan_confirm": STAFF,
    "staff.plan_progress": STAFF,
    "staff.move_next": STAFF,
    "staff.assign": STAFF,
    "staff.cancel_left": STAFF,
    "staff.requeue": STAFF,
    "runs.route_sheet": STAFF,
    "runs.run_link": STAFF,
    "runs.revoke_link": STAFF,
    "runs.staff_picking": STAFF,
    "shop_link.picking": SHOP,
    "driver.run": DRIVER,
    "driver.stop": DRIVER,
    "line_sandbox.page": SANDBOX,
    "line_sandbox.fake_api": SANDBOX,
    "line_sandbox.event": SANDBOX,
    "line_sandbox.inbox": SANDBOX,
    "phone_sandbox.phone_page": SANDBOX,
    "phone_sandbox.sent": SANDBOX,
    "phone_sandbox.fake_api": SANDBOX,
}


def _rules(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            url = re.sub(r"<int:[^>]+>", "1", rule.rule)
            url = re.sub(r"<any\(([^,)]+)[^>]*>", r"\1", url)     # any(json, csv) → its first choice
            url = re.sub(r"<(?:path:)?[^>]+>", "x", url)
            yield rule.endpoint, method, url


def test_every_route_has_a_declared_policy(app) -> None:
    undeclared = sorted({endpoint for endpoint, _, _ in _rules(app)} - set(POLICY))
    assert undeclared == [], f"declare an access policy for {undeclared}"


def test_anonymous_requests_get_what_the_policy_says(app, client) -> None:
    for endpoint, method, url in _rules(app):
        policy = POLICY[endpoint]
        response = client.open(url, method=method)
        if policy == STAFF:
            assert response.status_code in (302, 400), (endpoint, method, response.status_code)
            if response.status_code == 302:
                assert "/staff/login" in response.headers["Location"], endpoint
        elif policy == WEBHOOK:
            assert response.status_code in (400, 401, 403), (endpoint, method, response.status_code)
        elif policy in (DRIVER, SHOP):
            assert response.status_code in (400, 404), (endpoint, method, response.status_code)




def test_sandbox_routes_are_absent_when_the_sandbox_is_off(tmp_path, database_url, clock) -> None:
    from otodoke import create_app

    app = create_app({"DATABASE_URL": database_url, "JOBS_URL": f"sqlite:///{tmp_path / 'j.db'}",
                      "LINE_SANDBOX": "0", "TWILIO_SANDBOX": "0", "LINE_CHANNEL_SECRET": "s",
                      "LINE_CHANNEL_ACCESS_TOKEN": "t", "TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t",
                      "TWILIO_FROM_NUMBER": "+815000000000"}, clock=clock)
    endpoints = {endpoint for endpoint, _, _ in _rules(app)}
    assert not {e for e in endpoints if POLICY.get(e) == SANDBOX}
    client = app.test_client()
    assert client.get("/sandbox/line").status_code == 404
    assert client.get("/sandbox/phone").status_code == 404
