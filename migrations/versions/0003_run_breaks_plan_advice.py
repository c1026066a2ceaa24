"""runs keep the driver's planned break; plans keep what would have served every order

Revision ID: 0003_breaks_advice
Revises: 0002_runs
Create Date: 2026-12-03 07:20:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import core.db


revision = '0003_breaks_advice'
down_revision = '0002_runs'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('runs') as batch:
        batch.add_column(sa.Column('break_at', core.db.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column('break_minutes', sa.Integer(), nullable=False, server_default='0'))
    with op.batch_alter_table('plans') as batch:
        batch.add_column(sa.Column('advice', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('plans') as batch:
        batch.drop_column('advice')
    with op.batch_alter_table('runs') as batch:
        batch.drop_column('break_minutes')
        batch.drop_column('break_at')
