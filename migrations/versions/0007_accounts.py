"""accounts: personal sign-in accounts with roles and TOTP, and one-time invitations (issue #10)

Replaces the one shared staff password. No data to carry over: the first account is made with
``otodoke create-admin`` (or comes with the demo town).

Revision ID: 0007_accounts
Revises: 0006_run_link_version
Create Date: 2026-12-03 14:30:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

from core.db import UTCDateTime

revision = '0007_accounts'
down_revision = '0006_run_link_version'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('display_name', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('shop_id', sa.Integer(), nullable=True),
    sa.Column('driver_id', sa.Integer(), nullable=True),
    sa.Column('totp_secret', sa.String(length=64), nullable=True),
    sa.Column('totp_enabled', sa.Boolean(), nullable=False),
    sa.Column('totp_last_step', sa.Integer(), nullable=False),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('is_demo', sa.Boolean(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('last_login_at', UTCDateTime(), nullable=True),
    sa.CheckConstraint("role IN ('admin', 'coordinator', 'readonly', 'shop', 'driver')", name=op.f('ck_accounts_role_known')),
    sa.CheckConstraint("role <> 'shop' OR shop_id IS NOT NULL", name=op.f('ck_accounts_shop_has_shop')),
    sa.CheckConstraint("role <> 'driver' OR driver_id IS NOT NULL", name=op.f('ck_accounts_driver_has_driver')),
    sa.ForeignKeyConstraint(['driver_id'], ['drivers.id'], name=op.f('fk_accounts_driver_id_drivers')),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_accounts_shop_id_shops')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_accounts')),
    sa.UniqueConstraint('email', name=op.f('uq_accounts_email'))
    )
    op.create_table('invitations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('shop_id', sa.Integer(), nullable=True),
    sa.Column('driver_id', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('expires_at', UTCDateTime(), nullable=False),
    sa.Column('used_at', UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['created_by'], ['accounts.id'], name=op.f('fk_invitations_created_by_accounts')),
    sa.ForeignKeyConstraint(['driver_id'], ['drivers.id'], name=op.f('fk_invitations_driver_id_drivers')),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_invitations_shop_id_shops')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invitations')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_invitations_token_hash'))
    )


def downgrade() -> None:
    op.drop_table('invitations')
    op.drop_table('accounts')
