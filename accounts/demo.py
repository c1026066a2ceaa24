"""Demo accounts: only ever made together with the fictional demo town (demo/seed.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import Account
from accounts.service import create_account, hash_password
from delivery.models import Driver
from shops.models import Shop

# Printed by ``otodoke run`` when the demo town is loaded (never on a web page).
DEMO_PASSWORD = "otodoke-demo"
ACTOR = "demo:seed"


def demo_accounts() -> list[tuple[str, str, str]]:
    """(e-mail, display name, role) of each demo account."""
    return [("admin@demo.example", "管理者（デモ）", "admin"),
            ("coordinator@demo.example", "コーディネーター（デモ）", "coordinator"),
            ("readonly@demo.example", "閲覧のみ（デモ）", "readonly"),
            ("shop@demo.example", "お店の担当者（デモ）", "shop"),
            ("driver@demo.example", "配達員（デモ）", "driver")]


def add_demo_accounts(session: Session, *, now: datetime) -> int:
    """Add the demo accounts that are missing (the shop one for the first demo shop, the driver one for
    the first demo driver). They may skip the second factor's enrolment; the flow is the same otherwise."""
    shop_id = session.scalar(select(Shop.id).order_by(Shop.id).limit(1))
    driver_id = session.scalar(select(Driver.id).order_by(Driver.id).limit(1))
    existing = set(session.scalars(select(Account.email)))
    hashed = hash_password(DEMO_PASSWORD)     # one argon2 hash for all of them (it is slow on purpose)
    added = 0
    for email, name, role in demo_accounts():
        if email in existing or (role == "shop" and shop_id is None) or (role == "driver" and driver_id is None):
            continue
        create_account(session, email=email, display_name=name, password="", password_hash=hashed, role=role,
                       shop_id=shop_id, driver_id=driver_id, now=now, actor=ACTOR, is_demo=True)
        added += 1
    return added
