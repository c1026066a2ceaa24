"""residents.erased_at: when a resident's personal fields were erased (APPI deletion on request or the
retention sweep, residents/privacy.py)

Revision ID: 0009_resident_erased_at
Revises: 0008_run_stop_why
Create Date: 2026-12-03 18:10:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

from core.db import UTCDateTime

revision = '0009_resident_erased_at'
down_revision = '0008_run_stop_why'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('residents', sa.Column('erased_at', UTCDateTime(), nullable=True))


def downgrade() -> None:
    # A plain ALTER TABLE … DROP COLUMN (SQLite 3.35+ has it), as in 0006: batch mode would recreate
    # ``residents``, and dropping the old table with foreign keys on fails (orders refer to it).
    op.execute("ALTER TABLE residents DROP COLUMN erased_at")
