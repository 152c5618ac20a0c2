"""Trials of several members: a member index on curve points, and the standard error of a trial's objective.

A trial trains ``folds x repeats`` members and stores every member's curve; its objective is their mean, with its
standard error in ``trials.objective_sem`` (null for a one-member trial). Existing points become member 0. The
curve table has no table below it, so rebuilding it for the new primary key (SQLite's way) deletes nothing else.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``trials.objective_sem`` and ``curve_points.member`` (0 for the points there are), in the primary key."""
    op.add_column("trials", sa.Column("objective_sem", sa.Float(), nullable=True))
    with op.batch_alter_table("curve_points") as batch:
        batch.add_column(sa.Column("member", sa.Integer(), nullable=False, server_default="0"))
        batch.drop_constraint("pk_curve_points", type_="primary")
        batch.create_primary_key("pk_curve_points", ["trial_id", "member", "epoch", "metric"])


def downgrade() -> None:
    """Keep member 0's points only, and drop both columns."""
    op.execute("DELETE FROM curve_points WHERE member <> 0")
    with op.batch_alter_table("curve_points") as batch:
        batch.drop_constraint("pk_curve_points", type_="primary")
        batch.create_primary_key("pk_curve_points", ["trial_id", "epoch", "metric"])
        batch.drop_column("member")
    op.drop_column("trials", "objective_sem")
