"""plan_requests: 今すぐ計画 as a background job, one open request per delivery day

Revision ID: 0010_plan_requests
Revises: 0009_resident_erased_at
Create Date: 2026-12-04 00:20:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

from core.db import UTCDateTime

revision = '0010_plan_requests'
down_revision = '0009_resident_erased_at'
branch_labels = None
depends_on = None

OPEN = "state IN ('queued', 'planning')"


def upgrade() -> None:
    op.create_table(
        'plan_requests',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('delivery_date', sa.Date(), nullable=False),
        sa.Column('requested_by', sa.String(64), nullable=False),
        sa.Column('requested_at', UTCDateTime(), nullable=False),
        sa.Column('state', sa.String(16), nullable=False),
        sa.Column('started_at', UTCDateTime(), nullable=True),
        sa.Column('finished_at', UTCDateTime(), nullable=True),
        sa.Column('plan_id', sa.Integer(), sa.ForeignKey('plans.id'), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('progress', sa.Text(), nullable=True),
    )
    op.create_index('ix_plan_requests_delivery_date', 'plan_requests', ['delivery_date'])
    # One open (queued or planning) request per day: a double click cannot queue two plans.
    op.create_index('uq_plan_requests_open_day', 'plan_requests', ['delivery_date'], unique=True,
                    sqlite_where=sa.text(OPEN), postgresql_where=sa.text(OPEN))


def downgrade() -> None:
    op.drop_index('uq_plan_requests_open_day', table_name='plan_requests')
    op.drop_index('ix_plan_requests_delivery_date', table_name='plan_requests')
    op.drop_table('plan_requests')
