"""Signing in through the real pages in the browser, as the demo accounts (demo/seed.py made them)."""

from __future__ import annotations

import re
from typing import Any

import pyotp
from sqlalchemy import select

from accounts.demo import DEMO_PASSWORD
from accounts.models import Account
from core.db import db
from tests.browser.conftest import Live, Screens

COORDINATOR = "coordinator@demo.example"
SHOP = "shop@demo.example"
DRIVER = "driver@demo.example"


def password_step(page: Any, screens: Screens | None, email: str) -> None:
    page.goto("/staff/login")
    if screens is not None:
        screens.check(page, "login")
    page.get_by_label("メールアドレス").fill(email)
    page.get_by_label("パスワード").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_load_state("load")


def totp_secret(live: Live, email: str) -> str | None:
    with db.reading(live.app) as session:
        return session.scalar(select(Account.totp_secret).where(Account.email == email, Account.totp_enabled))


def sign_in_coordinator(page: Any, live: Live, screens: Screens | None = None) -> None:
    """Password, then the second factor: enrol it first if the demo account has none yet (the secret is
    read off the enrolment page, as a person types it into an authenticator app), then the 6-digit code
    computed with pyotp, as the app on the phone would show it."""
    live.tick()                     # a code is taken once per 30-second step
    password_step(page, screens, COORDINATOR)
    if "/staff/login/code" not in page.url:
        page.get_by_role("button", name="二段階認証を設定").click()
        page.wait_for_url(re.compile(r"/staff/login/enrol"))
        if screens is not None:
            screens.check(page, "enrol")
        secret = page.locator("code").inner_text().strip()
        page.get_by_label("確認コード").fill(pyotp.TOTP(secret).at(live.clock.now()))
        page.get_by_role("button", name="設定する").click()
        page.wait_for_url(re.compile(r"/staff/$|/staff/\?"))
        # and sign in again the way every later day goes: password, then the code
        page.get_by_role("button", name="ログアウト").click()
        page.wait_for_load_state("load")
        live.tick()
        password_step(page, None, COORDINATOR)
    page.wait_for_url(re.compile(r"/staff/login/code"))
    if screens is not None:
        screens.check(page, "code")
    secret = totp_secret(live, COORDINATOR)
    assert secret, "the coordinator has no TOTP secret after enrolment"
    page.get_by_label("6けたの数字").fill(pyotp.TOTP(secret).at(live.clock.now()))
    page.get_by_role("button", name="確認").click()
    page.wait_for_url(re.compile(r"/staff/"))
