"""order additions: a second order for the same door and day, added to the first

Revision ID: 0004_additions
Revises: 0003_breaks_advice
Create Date: 2026-12-03 07:00:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import core.db


revision = '0004_additions'
down_revision = '0003_breaks_advice'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('order_additions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=128), nullable=True),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('items', sa.JSON(), nullable=False),
    sa.Column('created_at', core.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_additions_order_id_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_additions')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_order_additions_idempotency_key'))
    )
    with op.batch_alter_table('order_additions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_order_additions_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_order_additions_order_id'), ['order_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('order_additions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_order_additions_order_id'))
        batch_op.drop_index(batch_op.f('ix_order_additions_created_at'))
    op.drop_table('order_additions')
