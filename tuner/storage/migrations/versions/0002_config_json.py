"""A study's and a comparison's configuration as one JSON column; the Ax snapshot column goes.

Every option a study asks for now lives in ``studies.config`` (a ``StudyConfig``) and ``comparisons.config`` (a
``ComparisonConfig``), so that a new option needs no migration; ``task`` and ``space`` stay columns of ``studies``
because queries filter on them. Existing rows are carried over: their columns become their configuration.

No table is rebuilt: on SQLite a rebuild drops the old table, and with foreign keys on that deletes every study,
trial and curve point below it (ON DELETE CASCADE). Columns are added and dropped in place instead (SQLite >= 3.35),
so the new column keeps an empty-object server default on SQLite, where it cannot be removed in place.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

# The columns 0001 gave each option, in the order of StudyConfig.
_STUDY_OPTIONS = ("objective", "n_trials", "parallelism", "epochs", "batch_size", "max_train", "seed", "early_stopping")
_COMPARISON_OPTIONS = ("task", "spaces", "replicates", "n_trials", "epochs", "seed")


def _typed(columns: list[sa.Column[Any]]) -> list[sa.ColumnClause[Any]]:
    # Typed, so that JSON comes back decoded on SQLite too.
    return [sa.column(c.name, c.type) for c in columns]


def _study_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("objective", sa.String(length=64), nullable=True),
        sa.Column("n_trials", sa.Integer(), nullable=True),
        sa.Column("parallelism", sa.Integer(), nullable=True),
        sa.Column("epochs", sa.Integer(), nullable=True),
        sa.Column("batch_size", sa.Integer(), nullable=True),
        sa.Column("max_train", sa.Integer(), nullable=True),
        sa.Column("seed", sa.BigInteger(), nullable=True),
        sa.Column("early_stopping", _JSON, nullable=True),
    ]


def _comparison_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("task", sa.String(length=64), nullable=True),
        sa.Column("spaces", _JSON, nullable=True),
        sa.Column("replicates", sa.Integer(), nullable=True),
        sa.Column("n_trials", sa.Integer(), nullable=True),
        sa.Column("epochs", sa.Integer(), nullable=True),
        sa.Column("seed", sa.BigInteger(), nullable=True),
        sa.Column("settings", _JSON, nullable=True),
    ]


def upgrade() -> None:
    """Add the config columns, fill them from the option columns, drop those (and the unused Ax snapshot)."""
    bind = op.get_bind()
    for table in ("studies", "comparisons"):
        op.add_column(table, sa.Column("config", _JSON, nullable=False, server_default=sa.text("'{}'")))
    studies = sa.table(
        "studies",
        sa.column("id", sa.Integer()),
        sa.column("task", sa.String()),
        sa.column("space", sa.String()),
        sa.column("config", _JSON),
        *_typed(_study_columns()),
    )
    for row in bind.execute(sa.select(studies)).mappings().all():
        config = {"task": row["task"], "space": row["space"], **{c: row[c] for c in _STUDY_OPTIONS}}
        bind.execute(studies.update().where(studies.c.id == row["id"]).values(config=config))
    comparisons = sa.table(
        "comparisons",
        sa.column("id", sa.Integer()),
        sa.column("config", _JSON),
        *_typed(_comparison_columns()),
    )
    for row in bind.execute(sa.select(comparisons)).mappings().all():
        config = {**(row["settings"] or {}), **{c: row[c] for c in _COMPARISON_OPTIONS}}
        bind.execute(comparisons.update().where(comparisons.c.id == row["id"]).values(config=config))
    for column in (*_STUDY_OPTIONS, "ax_snapshot"):
        op.drop_column("studies", column)
    for column in (*_COMPARISON_OPTIONS, "settings"):
        op.drop_column("comparisons", column)
    if bind.dialect.name != "sqlite":
        for table in ("studies", "comparisons"):
            op.alter_column(table, "config", server_default=None)


def downgrade() -> None:
    """Bring the option columns back from the config columns (options added since 0002 are lost).

    The restored columns are nullable: making them NOT NULL again would rebuild the tables on SQLite (see above).
    """
    bind = op.get_bind()
    for column in _study_columns():
        op.add_column("studies", column)
    op.add_column("studies", sa.Column("ax_snapshot", _JSON, nullable=True))
    for column in _comparison_columns():
        op.add_column("comparisons", column)
    studies = sa.table("studies", sa.column("id"), sa.column("config", _JSON), *_typed(_study_columns()))
    for row in bind.execute(sa.select(studies.c.id, studies.c.config)).mappings().all():
        config = row["config"]
        bind.execute(studies.update().where(studies.c.id == row["id"]).values({c: config[c] for c in _STUDY_OPTIONS}))
    comparisons = sa.table("comparisons", sa.column("id"), sa.column("config", _JSON), *_typed(_comparison_columns()))
    for row in bind.execute(sa.select(comparisons.c.id, comparisons.c.config)).mappings().all():
        config = row["config"]
        values = {c: config[c] for c in _COMPARISON_OPTIONS}
        settings = {k: config[k] for k in ("parallelism", "batch_size", "objective", "max_train") if k in config}
        bind.execute(comparisons.update().where(comparisons.c.id == row["id"]).values(**values, settings=settings))
    for table in ("studies", "comparisons"):
        op.drop_column(table, "config")
