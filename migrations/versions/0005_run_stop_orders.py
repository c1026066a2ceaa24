"""run stop orders: one delivery stop per door, holding every order handed over there (issue #9)

Each delivery stop's single ``run_stops.order_id`` becomes a row of ``run_stop_orders``; the column
goes. Stops planned before this revision keep one order each (they were planned one per order).
The downgrade gives a stop with several orders back as one stop per order, at the same time and
place, so no order loses its stop.

Revision ID: 0005_run_stop_orders
Revises: 0004_additions
Create Date: 2026-12-03 09:00:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0005_run_stop_orders'
down_revision = '0004_additions'
branch_labels = None
depends_on = None

_STAGING = "run_stop_orders_staging"
# every column of run_stops but id and order_id, for the downgrade's copies
_STOP_COLUMNS = ("run_id, seq, kind, shop_id, picks, lat, lon, eta, window_start, window_end, service_s, "
                 "status, done_at, cash_collected_yen, note")


def upgrade() -> None:
    # The order ids wait in a plain table while run_stops loses its column: on SQLite that rebuilds
    # run_stops, and dropping the old table (foreign keys on) would cascade into run_stop_orders.
    _stage("SELECT id, order_id, 0 FROM run_stops WHERE order_id IS NOT NULL")
    with op.batch_alter_table('run_stops', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_run_stops_order_id'))
        batch_op.drop_constraint(batch_op.f('fk_run_stops_order_id_orders'), type_='foreignkey')
        batch_op.drop_column('order_id')

    op.create_table('run_stop_orders',
    sa.Column('run_stop_id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_run_stop_orders_order_id_orders')),
    sa.ForeignKeyConstraint(['run_stop_id'], ['run_stops.id'], name=op.f('fk_run_stop_orders_run_stop_id_run_stops'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_stop_id', 'order_id', name=op.f('pk_run_stop_orders'))
    )
    with op.batch_alter_table('run_stop_orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_run_stop_orders_order_id'), ['order_id'], unique=False)
    op.execute(f"INSERT INTO run_stop_orders (run_stop_id, order_id, position) "
               f"SELECT run_stop_id, order_id, position FROM {_STAGING}")
    op.drop_table(_STAGING)


def downgrade() -> None:
    _stage("SELECT run_stop_id, order_id, position FROM run_stop_orders")
    with op.batch_alter_table('run_stop_orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_run_stop_orders_order_id'))
    op.drop_table('run_stop_orders')

    with op.batch_alter_table('run_stops', schema=None) as batch_op:
        batch_op.add_column(sa.Column('order_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_run_stops_order_id_orders'), 'orders', ['order_id'], ['id'])
        batch_op.create_index(batch_op.f('ix_run_stops_order_id'), ['order_id'], unique=False)

    # the first order stays on the stop; each further order gets a copy of the stop of its own
    op.execute(f"UPDATE run_stops SET order_id = (SELECT o.order_id FROM {_STAGING} o "
               f"WHERE o.run_stop_id = run_stops.id AND o.position = "
               f"(SELECT MIN(p.position) FROM {_STAGING} p WHERE p.run_stop_id = run_stops.id))")
    op.execute(f"INSERT INTO run_stops ({_STOP_COLUMNS}, order_id) "
               f"SELECT {', '.join('s.' + c.strip() for c in _STOP_COLUMNS.split(','))}, o.order_id "
               f"FROM run_stops s JOIN {_STAGING} o ON o.run_stop_id = s.id "
               f"WHERE o.order_id <> s.order_id")
    op.drop_table(_STAGING)


def _stage(select: str) -> None:
    op.create_table(_STAGING,
                    sa.Column('run_stop_id', sa.Integer(), nullable=False),
                    sa.Column('order_id', sa.Integer(), nullable=False),
                    sa.Column('position', sa.Integer(), nullable=False))
    op.execute(f"INSERT INTO {_STAGING} (run_stop_id, order_id, position) {select}")
