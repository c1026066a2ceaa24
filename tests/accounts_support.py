"""Signing tests in as real accounts: the same pages and steps a person goes through (password, then the
TOTP code for admin and coordinator), with the account made directly in the test database."""

from __future__ import annotations

import re
from datetime import timedelta
from functools import lru_cache
from typing import Any

import pyotp
from sqlalchemy import select

from accounts.models import Account
from accounts.service import hash_password
from core.clock import get_clock
from core.db import db

PASSWORD = "correct horse battery"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DP"


@lru_cache(maxsize=1)
def _hash() -> str:
    return hash_password(PASSWORD)      # argon2 is slow on purpose: once per test run


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert found, "no CSRF token on the page"
    return found.group(1)


def make_account(app: Any, role: str = "coordinator", *, email: str | None = None, shop_id: int | None = None,
                 driver_id: int | None = None, totp: bool = True, disabled: bool = False) -> int:
    """An account (made once per e-mail) with the test password and, for admin/coordinator, TOTP set up."""
    email = email or f"{role}@test.example"
    with db.transaction(app) as session:
        found = session.scalar(select(Account).where(Account.email == email))
        if found is not None:
            return found.id
        account = Account(email=email, display_name=f"{role} さん", password_hash=_hash(), role=role,
                          shop_id=shop_id, driver_id=driver_id, totp_secret=TOTP_SECRET if totp else None,
                          totp_enabled=totp and role in ("admin", "coordinator"), totp_last_step=0,
                          disabled=disabled, generation=1, is_demo=False, created_at=get_clock(app).now())
        session.add(account)
        session.flush()
        return account.id


def code_for(app: Any, email: str) -> str:
    """A TOTP code the app will take now: the app clock's step, or the next one if that was used."""
    totp = pyotp.TOTP(TOTP_SECRET)
    now = get_clock(app).now()
    with db.transaction(app) as session:
        account = session.scalar(select(Account).where(Account.email == email))
        for offset in (-1, 0, 1):
            at = now + timedelta(seconds=30 * offset)
            if totp.timecode(at) > account.totp_last_step:
                return totp.at(at)
        account.totp_last_step = 0     # a test signing in again and again at one frozen instant
        return totp.at(now)


def post_login(client: Any, email: str, password: str = PASSWORD, next_path: str | None = None):  # type: ignore[no-untyped-def]
    url = "/staff/login" + (f"?next={next_path}" if next_path else "")
    token = csrf_of(client.get("/staff/login").get_data(as_text=True))
    return client.post(url, data={"email": email, "password": password, "csrf_token": token})


def sign_in(client: Any, role: str = "coordinator", *, email: str | None = None, next_path: str | None = None,
            **account: Any):  # type: ignore[no-untyped-def]
    """Sign ``client`` in through the real pages; return the last response (a redirect to the target)."""
    app = client.application
    email = email or f"{role}@test.example"
    make_account(app, role, email=email, **account)
    response = post_login(client, email, next_path=next_path)
    if response.status_code == 302 and "/staff/login/code" in response.headers["Location"]:
        token = csrf_of(client.get("/staff/login/code").get_data(as_text=True))
        response = client.post("/staff/login/code", data={"code": code_for(app, email), "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response
