"""run link version: staff can revoke a driver's run link (issue 12, hole 10)

Revision ID: 0006_run_link_version
Revises: 0005_run_stop_orders
Create Date: 2026-12-03 15:00:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0006_run_link_version'
down_revision = '0005_run_stop_orders'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('runs', sa.Column('link_version', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    # A plain ALTER TABLE … DROP COLUMN (SQLite 3.35+ has it): batch mode would recreate ``runs``, and
    # dropping the old table with foreign keys on fails (run_stops refer to it).
    op.execute("ALTER TABLE runs DROP COLUMN link_version")
