"""Accounts and invitations."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base

ROLES = ("admin", "coordinator", "readonly", "shop", "driver")
STAFF_ROLES = ("admin", "coordinator", "readonly")
# Roles that see residents' personal data and change the day: a second factor is required.
TOTP_ROLES = ("admin", "coordinator")
ROLE_LABELS = {"admin": "管理者", "coordinator": "コーディネーター", "readonly": "閲覧のみ",
               "shop": "お店", "driver": "配達員"}


class Account(Base):
    """One person's sign-in. A shop account belongs to one shop, a driver account to one driver.

    ``generation`` is part of the session's user id: raising it (disable, 「すべての端末からログアウト」,
    a new password) ends every session signed in before."""

    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'coordinator', 'readonly', 'shop', 'driver')", name="role_known"),
        CheckConstraint("role <> 'shop' OR shop_id IS NOT NULL", name="shop_has_shop"),
        CheckConstraint("role <> 'driver' OR driver_id IS NOT NULL", name="driver_has_driver"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)   # stored lower-cased
    display_name: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))        # argon2id
    role: Mapped[str] = mapped_column(String(16))
    shop_id: Mapped[int | None] = mapped_column(ForeignKey("shops.id"))
    driver_id: Mapped[int | None] = mapped_column(ForeignKey("drivers.id"))
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled: Mapped[bool] = mapped_column(default=False)
    # The last 30-second step a code was accepted for: the same code cannot be used twice.
    totp_last_step: Mapped[int] = mapped_column(default=0)
    disabled: Mapped[bool] = mapped_column(default=False)
    generation: Mapped[int] = mapped_column(default=1)
    # Demo accounts (only with the demo town) may skip TOTP enrolment.
    is_demo: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column()
    last_login_at: Mapped[datetime | None] = mapped_column()

    @property
    def needs_totp(self) -> bool:
        return self.role in TOTP_ROLES


class Invitation(Base):
    """A one-time link for a new account. Only a hash of the link's secret is stored."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(16))
    shop_id: Mapped[int | None] = mapped_column(ForeignKey("shops.id"))
    driver_id: Mapped[int | None] = mapped_column(ForeignKey("drivers.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()
