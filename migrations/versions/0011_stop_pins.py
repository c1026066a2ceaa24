"""stop_pins: a door put on a van by hand stays on that van when the day is re-planned

Revision ID: 0011_stop_pins
Revises: 0010_plan_requests
Create Date: 2026-12-04 19:10:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

from core.db import UTCDateTime

revision = '0011_stop_pins'
down_revision = '0010_plan_requests'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'stop_pins',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('delivery_date', sa.Date(), nullable=False),
        sa.Column('resident_id', sa.Integer(), sa.ForeignKey('residents.id'), nullable=False),
        sa.Column('vehicle_id', sa.Integer(), sa.ForeignKey('vehicles.id'), nullable=False),
        sa.Column('pinned_by', sa.String(64), nullable=False),
        sa.Column('pinned_at', UTCDateTime(), nullable=False),
        sa.UniqueConstraint('delivery_date', 'resident_id'),
    )
    op.create_index('ix_stop_pins_delivery_date', 'stop_pins', ['delivery_date'])


def downgrade() -> None:
    op.drop_index('ix_stop_pins_delivery_date', table_name='stop_pins')
    op.drop_table('stop_pins')
