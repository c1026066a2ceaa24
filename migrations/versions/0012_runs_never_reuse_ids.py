"""runs: never reuse a run id on SQLite (a run emptied by a hand move is deleted; its driver's link must
not open the next run given that id)

Revision ID: 0012_runs_never_reuse_ids
Revises: 0011_stop_pins
Create Date: 2026-12-04 22:15:00
"""
from __future__ import annotations

from alembic import op

revision = '0012_runs_never_reuse_ids'
down_revision = '0011_stop_pins'
branch_labels = None
depends_on = None


def _rebuild(autoincrement: bool) -> None:
    # Only SQLite reuses ids (max(rowid) + 1); PostgreSQL's sequences never do, so nothing to change there.
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table("runs", recreate="always",
                              table_kwargs={"sqlite_autoincrement": autoincrement}):
        pass


def upgrade() -> None:
    _rebuild(True)


def downgrade() -> None:
    _rebuild(False)
