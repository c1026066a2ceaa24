"""run link key: a driver link opens only the run it was made for, even when SQLite reuses a deleted
run's id (runs has no AUTOINCREMENT, and rebuilding the table fails its foreign-key check)

Revision ID: 0012_run_link_key
Revises: 0011_stop_pins
Create Date: 2026-12-04 23:00:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0012_run_link_key'
down_revision = '0011_stop_pins'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable, no backfill: the runs there already keep NULL, and their links (made without a key)
    # keep opening them; every run made from now on gets a random key from the model.
    op.add_column('runs', sa.Column('link_key', sa.String(length=32), nullable=True))


def downgrade() -> None:
    # A plain DROP COLUMN as in 0006: batch mode would recreate ``runs`` and fail the foreign-key check.
    op.execute("ALTER TABLE runs DROP COLUMN link_key")
