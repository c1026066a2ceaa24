"""run stop why: the reason a van calls at a shop a second time, for the route sheet (issue 9)

Revision ID: 0008_run_stop_why
Revises: 0007_accounts
Create Date: 2026-12-03 18:10:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0008_run_stop_why'
down_revision = '0007_accounts'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('run_stops', sa.Column('why', sa.String(length=256), server_default='', nullable=False))


def downgrade() -> None:
    # A plain ALTER TABLE … DROP COLUMN (SQLite 3.35+ has it), as in 0006.
    op.execute("ALTER TABLE run_stops DROP COLUMN why")
