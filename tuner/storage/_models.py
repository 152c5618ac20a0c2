"""The tables, as typed SQLAlchemy 2 models. Only the storage module touches them; callers get records.

Every timestamp is stored and returned as timezone-aware UTC (SQLite keeps no zone, so it stores naive UTC).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, Self

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.types import TypeDecorator

from bnn_errors import NotFoundError
from tuner.storage._records import (
    STUDY_STATES,
    TRIAL_STATES,
    ComparisonRecord,
    CurvePoint,
    StudyRecord,
    TrialRecord,
)
from tuner.study.config import ComparisonConfig, StudyConfig, stored_config
from tuner.study.states import StudyState, TrialState

__all__ = ["Base", "ComparisonModel", "CurvePointModel", "StudyModel", "TrialModel", "UTCDateTime"]

# Named constraints, so that later migrations can drop or alter them by name (SQLite batch mode needs names).
_NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# JSONB on PostgreSQL: smaller, and queryable should analysis ever want to look inside.
_JSON = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend; refuses naive datetimes."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert to UTC before storing; SQLite gets it without zone, as it would drop the zone anyway."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"timestamps must be timezone-aware, got {value!r}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Read back as timezone-aware UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


class Base(DeclarativeBase):
    """Declarative base of the bnn-tune tables."""

    metadata = MetaData(naming_convention=_NAMING_CONVENTION)


class _Identified(Base):
    """A table with an integer id, and the lookup by id that raises a named error."""

    __abstract__ = True
    _noun: ClassVar[str]

    # First column in the table, ahead of the subclasses' own.
    id: Mapped[int] = mapped_column(Integer, primary_key=True, sort_order=-1)

    @classmethod
    def find_or_raise(cls, session: Session, id_: int, *, for_update: bool = False) -> Self:
        """The row with id ``id_``; raises ``NotFoundError`` naming what was looked for.

        ``for_update`` locks the row until the transaction ends (PostgreSQL; SQLite locks the whole file).
        """
        statement = select(cls).where(cls.id == id_)
        if for_update:
            statement = statement.with_for_update()
        row = session.scalars(statement).one_or_none()
        if row is None:
            raise NotFoundError(f"no {cls._noun} with id {id_}")
        return row


class ComparisonModel(_Identified):
    """A comparison: replicated studies of several search spaces on one task."""

    __tablename__ = "comparisons"
    _noun = "comparison"
    __table_args__ = (CheckConstraint(_one_of("state", STUDY_STATES), name="state"),)

    # The comparison's ComparisonConfig as JSON: nothing queries inside it.
    config: Mapped[dict[str, Any]] = mapped_column(_JSON)
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    def to_record(self) -> ComparisonRecord:
        """This row as a frozen record."""
        return ComparisonRecord(
            id=self.id,
            config=stored_config(ComparisonConfig, dict(self.config)),
            state=StudyState(self.state),
            created_at=self.created_at,
        )


class StudyModel(_Identified):
    """A study: Bayesian optimization of one search space on one task, ``n_trials`` trials long."""

    __tablename__ = "studies"
    _noun = "study"
    __table_args__ = (
        CheckConstraint(_one_of("state", STUDY_STATES), name="state"),
        # The scheduler's claim: the oldest queued study.
        Index(None, "state", "created_at"),
        Index(None, "comparison_id", "replicate"),
        Index(None, "space"),
        Index(None, "task"),
    )

    comparison_id: Mapped[int | None] = mapped_column(ForeignKey("comparisons.id", ondelete="CASCADE"))
    replicate: Mapped[int | None] = mapped_column(Integer)
    task: Mapped[str] = mapped_column(String(64))
    space: Mapped[str] = mapped_column(String(64))
    # The study's StudyConfig as JSON; task and space are also columns above, for the queries that filter on them.
    config: Mapped[dict[str, Any]] = mapped_column(_JSON)
    state: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def to_record(self) -> StudyRecord:
        """This row as a frozen record."""
        return StudyRecord(
            id=self.id,
            comparison_id=self.comparison_id,
            replicate=self.replicate,
            config=stored_config(StudyConfig, dict(self.config)),
            state=StudyState(self.state),
            error=self.error,
            created_at=self.created_at,
            started_at=self.started_at,
            finished_at=self.finished_at,
        )


class TrialModel(_Identified):
    """A trial: one parameterization of a study, numbered from 0 within it."""

    __tablename__ = "trials"
    _noun = "trial"
    __table_args__ = (
        CheckConstraint(_one_of("state", TRIAL_STATES), name="state"),
        UniqueConstraint("study_id", "number"),
        # Recovery after a restart looks for the trials still marked running.
        Index(None, "state"),
    )

    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    parameters: Mapped[dict[str, Any]] = mapped_column(_JSON)
    state: Mapped[str] = mapped_column(String(16))
    objective: Mapped[float | None] = mapped_column(Float)
    objective_sem: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer)
    worker_host: Mapped[str | None] = mapped_column(String(255))
    node_id: Mapped[str | None] = mapped_column(String(128))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def to_record(self) -> TrialRecord:
        """This row as a frozen record."""
        return TrialRecord(
            id=self.id,
            study_id=self.study_id,
            number=self.number,
            parameters=dict(self.parameters),
            state=TrialState(self.state),
            objective=self.objective,
            objective_sem=self.objective_sem,
            error=self.error,
            attempts=self.attempts,
            worker_host=self.worker_host,
            node_id=self.node_id,
            started_at=self.started_at,
            finished_at=self.finished_at,
        )


class CurvePointModel(Base):
    """One metric of one member of a trial at the end of one epoch; a retried epoch overwrites its point."""

    __tablename__ = "curve_points"

    trial_id: Mapped[int] = mapped_column(ForeignKey("trials.id", ondelete="CASCADE"), primary_key=True)
    member: Mapped[int] = mapped_column(Integer, primary_key=True, server_default="0")
    epoch: Mapped[int] = mapped_column(Integer, primary_key=True)
    metric: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[float] = mapped_column(Float)

    def to_record(self) -> CurvePoint:
        """This row as a frozen record."""
        return CurvePoint(
            trial_id=self.trial_id, epoch=self.epoch, metric=self.metric, value=self.value, member=self.member
        )
