"""The one writer of bnn-tune's tables: SQLite or PostgreSQL behind the same methods, records in and out.

Every method runs in one transaction (``Storage._session``) and turns driver errors into the project's:

- the database cannot be reached, is locked too long, or has no tables yet -> ``StorageUnavailableError``
  (names ``BNN_TUNE_DATABASE_URL`` and the URL with its password masked)
- an id that does not exist -> ``NotFoundError``
- a change the object's state forbids (finishing a finished trial, cancelling a completed study), or a
  duplicate (a trial number used twice) -> ``ConflictError``
- a malformed argument (an unknown state, a negative epoch, a NaN value) -> ``InvalidInputError``
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable, Select

from bnn_errors import ConflictError, InvalidInputError
from tuner.storage._engine import (
    READ_ONLY,
    current_revision,
    masked_url,
    migrate,
    open_engine,
    translate_error,
)
from tuner.storage._models import ComparisonModel, CurvePointModel, StudyModel, TrialModel
from tuner.storage._records import (
    STUDY_STATES,
    TERMINAL_STUDY_STATES,
    TRIAL_STATES,
    ComparisonRecord,
    CurvePoint,
    StudyRecord,
    TrialRecord,
)
from tuner.storage._rules import (
    check_page,
    check_points,
    check_state,
    check_study_move,
    check_trial_end,
    summary_state,
)
from tuner.study.config import ComparisonConfig, StudyConfig
from tuner.study.states import StudyState, TrialState

__all__ = ["Storage"]


def _now() -> datetime:
    return datetime.now(UTC)


class Storage:
    """Studies, comparisons, trials and learning curves in a SQL database given by an SQLAlchemy URL.

    Creating a ``Storage`` does not connect; the first method call does. Call :meth:`migrate` once to create
    or upgrade the tables. Methods return frozen records, so no caller ever holds a database session.
    Several ``Storage`` objects (in one process or several) may share a database.

    Raises ``InvalidInputError`` naming ``BNN_TUNE_DATABASE_URL`` if ``url`` is malformed or its driver
    is not installed. A plain ``postgresql://`` URL uses psycopg 3; SQLite runs in WAL mode with foreign
    keys on, and a writer waits up to 30 s for another to finish.
    """

    def __init__(self, url: str) -> None:
        self._engine = open_engine(url)
        self._read_engine = self._engine.execution_options(**{READ_ONLY: True})

    # -- lifecycle -------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The database URL with the password masked, safe to log."""
        return masked_url(self._engine)

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for migrations, diagnostics and tests; not for writing rows)."""
        return self._engine

    def close(self) -> None:
        """Close the pooled connections; the object may still be used (it reconnects)."""
        self._engine.dispose()

    def __enter__(self) -> Storage:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Storage({self.url!r})"

    def migrate(self, revision: str = "head") -> None:
        """Create or upgrade the tables to ``revision`` (Alembic; the newest by default).

        Safe to call from several processes at once (they take turns). Raises ``StorageUnavailableError``.
        """
        migrate(self._engine, revision)

    def current_revision(self) -> str | None:
        """The Alembic revision the database is at; ``None`` before the first :meth:`migrate`."""
        return current_revision(self._read_engine)

    def ping(self) -> None:
        """Check that the database answers; raises ``StorageUnavailableError`` if not."""
        with self._session(write=False) as session:
            session.execute(text("SELECT 1"))

    # -- studies ---------------------------------------------------------------------------------------

    def create_study(self, config: StudyConfig) -> StudyRecord:
        """Store a new study, queued, outside any comparison."""
        with self._session() as session:
            row = _study_row(config, comparison_id=None, replicate=None, created_at=_now())
            session.add(row)
            session.flush()
            return row.to_record()

    def get_study(self, study_id: int) -> StudyRecord:
        """The study ``study_id``; raises ``NotFoundError``."""
        with self._session(write=False) as session:
            return StudyModel.find_or_raise(session, study_id).to_record()

    def list_studies(
        self,
        *,
        state: StudyState | str | None = None,
        space: str | None = None,
        task: str | None = None,
        comparison_id: int | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[StudyRecord]:
        """Studies matching every filter given, newest first, ``limit`` from ``offset`` on.

        Raises ``InvalidInputError`` for an unknown state, ``limit`` outside [1, 1000] or a negative offset.
        """
        check_page(limit, offset)
        statement = _study_filter(select(StudyModel), state, space, task, comparison_id)
        statement = statement.order_by(StudyModel.id.desc()).limit(limit).offset(offset)
        with self._session(write=False) as session:
            return [row.to_record() for row in session.scalars(statement)]

    def count_studies(
        self,
        *,
        state: StudyState | str | None = None,
        space: str | None = None,
        task: str | None = None,
        comparison_id: int | None = None,
    ) -> int:
        """How many studies match every filter given (the filters of :meth:`list_studies`)."""
        statement = _study_filter(select(func.count(StudyModel.id)), state, space, task, comparison_id)
        with self._session(write=False) as session:
            return int(session.scalar(statement) or 0)

    def claim_next_queued(self) -> StudyRecord | None:
        """Mark the oldest queued study running and return it; ``None`` if no study is queued.

        Two schedulers claiming at once never get the same study.
        """
        statement = (
            select(StudyModel)
            .where(StudyModel.state == "queued")
            .order_by(StudyModel.created_at, StudyModel.id)
            .limit(1)
            # Concurrent claimers skip a row another has locked instead of waiting for it (PostgreSQL);
            # SQLite's write lock already serializes them.
            .with_for_update(skip_locked=True)
        )
        with self._session() as session:
            row = session.scalars(statement).one_or_none()
            if row is None:
                return None
            _move_study(session, row, "running", error=None)
            return row.to_record()

    def set_study_state(self, study_id: int, state: StudyState | str, error: str | None = None) -> StudyRecord:
        """Move a study to ``state``, recording ``error`` if given; stamps start and finish times.

        Legal moves: queued -> running | failed | cancelled; running -> queued | completed | failed |
        cancelled; none out of completed, failed or cancelled. Raises ``NotFoundError``, ``ConflictError``
        for an illegal move, ``InvalidInputError`` for an unknown state.
        """
        check_state(state, STUDY_STATES, "study")
        with self._session() as session:
            row = StudyModel.find_or_raise(session, study_id, for_update=True)
            _move_study(session, row, state, error=error)
            return row.to_record()

    # -- comparisons -----------------------------------------------------------------------------------

    def create_comparison(self, config: ComparisonConfig) -> tuple[ComparisonRecord, list[StudyRecord]]:
        """Store a comparison and its replicate studies (:meth:`ComparisonConfig.studies`) in one transaction."""
        with self._session() as session:
            now = _now()
            comparison = ComparisonModel(config=config.model_dump(mode="json"), state="queued", created_at=now)
            session.add(comparison)
            session.flush()
            rows = [
                _study_row(study, comparison_id=comparison.id, replicate=replicate, created_at=now)
                for replicate, study in config.studies()
            ]
            session.add_all(rows)
            session.flush()
            return comparison.to_record(), [row.to_record() for row in rows]

    def get_comparison(self, comparison_id: int) -> ComparisonRecord:
        """The comparison ``comparison_id``; raises ``NotFoundError``."""
        with self._session(write=False) as session:
            return ComparisonModel.find_or_raise(session, comparison_id).to_record()

    def list_comparisons(self, *, limit: int = 50, offset: int = 0) -> list[ComparisonRecord]:
        """Comparisons, newest first, ``limit`` from ``offset`` on."""
        check_page(limit, offset)
        statement = select(ComparisonModel).order_by(ComparisonModel.id.desc()).limit(limit).offset(offset)
        with self._session(write=False) as session:
            return [row.to_record() for row in session.scalars(statement)]

    def count_comparisons(self) -> int:
        """How many comparisons are stored."""
        with self._session(write=False) as session:
            return int(session.scalar(select(func.count(ComparisonModel.id))) or 0)

    def comparison_studies(self, comparison_id: int) -> list[StudyRecord]:
        """The studies of a comparison, by space then replicate; raises ``NotFoundError``."""
        statement = (
            select(StudyModel)
            .where(StudyModel.comparison_id == comparison_id)
            .order_by(StudyModel.space, StudyModel.replicate, StudyModel.id)
        )
        with self._session(write=False) as session:
            ComparisonModel.find_or_raise(session, comparison_id)
            return [row.to_record() for row in session.scalars(statement)]

    def cancel_comparison(self, comparison_id: int) -> ComparisonRecord:
        """Cancel every study of the comparison that has not finished.

        Raises ``NotFoundError``, or ``ConflictError`` if all its studies have already finished.
        """
        with self._session() as session:
            comparison = ComparisonModel.find_or_raise(session, comparison_id)
            # Every writer locks studies (by id) before their comparison, so no two of them deadlock.
            rows = session.scalars(
                select(StudyModel)
                .where(StudyModel.comparison_id == comparison_id)
                .order_by(StudyModel.id)
                .with_for_update()
            ).all()
            open_rows = [row for row in rows if row.state not in TERMINAL_STUDY_STATES]
            if not open_rows:
                raise ConflictError(f"comparison {comparison_id} is {comparison.state}: nothing left to cancel")
            for row in open_rows:
                _move_study(session, row, "cancelled", error=None)
            return comparison.to_record()

    # -- trials ----------------------------------------------------------------------------------------

    def create_trial(self, study_id: int, number: int, parameters: Mapping[str, Any]) -> TrialRecord:
        """Store trial ``number`` of a running study, in state running with one attempt.

        Raises ``NotFoundError``; ``ConflictError`` if the study is not running or the number is taken;
        ``InvalidInputError`` for a negative number.
        """
        if number < 0:
            raise InvalidInputError(f"trial numbers start at 0, got {number}")
        with self._session() as session:
            study = StudyModel.find_or_raise(session, study_id)
            if study.state != "running":
                raise ConflictError(f"study {study_id} is {study.state}; trials are added only while it runs")
            taken = session.scalar(
                select(TrialModel.id).where(TrialModel.study_id == study_id, TrialModel.number == number)
            )
            if taken is not None:
                raise ConflictError(f"study {study_id} already has a trial number {number} (id {taken})")
            row = TrialModel(
                study_id=study_id,
                number=number,
                parameters=dict(parameters),
                state="running",
                attempts=1,
                started_at=_now(),
            )
            session.add(row)
            session.flush()
            return row.to_record()

    def trials(self, study_id: int, *, state: TrialState | str | None = None) -> list[TrialRecord]:
        """The trials of a study by number, only those in ``state`` if given; raises ``NotFoundError``."""
        statement = select(TrialModel).where(TrialModel.study_id == study_id).order_by(TrialModel.number)
        if state is not None:
            check_state(state, TRIAL_STATES, "trial")
            statement = statement.where(TrialModel.state == state)
        with self._session(write=False) as session:
            StudyModel.find_or_raise(session, study_id)
            return [row.to_record() for row in session.scalars(statement)]

    def finish_trial(
        self,
        trial_id: int,
        state: TrialState | str,
        objective: float | None = None,
        error: str | None = None,
        *,
        objective_sem: float | None = None,
    ) -> TrialRecord:
        """End a running trial in ``state`` (completed, failed, abandoned or early_stopped).

        A completed trial needs a finite ``objective``; ``objective_sem`` is its standard error where the trial
        had several members (None: one member, noise unknown). Raises ``NotFoundError``; ``ConflictError`` if the
        trial has already ended; ``InvalidInputError`` for a state that is not an end or a bad objective.
        """
        check_trial_end(trial_id, state, objective, objective_sem)
        with self._session() as session:
            row = _running_trial(session, trial_id)
            row.state = state
            row.objective = objective
            row.objective_sem = objective_sem
            row.error = error
            row.finished_at = _now()
            return row.to_record()

    def increment_attempts(self, trial_id: int) -> TrialRecord:
        """Count one more run of a running trial (after its worker died); raises as :meth:`set_worker`."""
        with self._session() as session:
            row = _running_trial(session, trial_id)
            row.attempts += 1
            return row.to_record()

    def set_worker(self, trial_id: int, worker_host: str | None, node_id: str | None) -> TrialRecord:
        """Record where a running trial runs; raises ``NotFoundError`` or ``ConflictError`` if it ended."""
        with self._session() as session:
            row = _running_trial(session, trial_id)
            row.worker_host = worker_host
            row.node_id = node_id
            return row.to_record()

    # -- learning curves -------------------------------------------------------------------------------

    def add_points(self, trial_id: int, epoch: int, values: Mapping[str, float], *, member: int = 0) -> None:
        """Store the metrics of member ``member`` of a running trial at the end of ``epoch``; an epoch stored
        again overwrites.

        Raises ``NotFoundError``; ``ConflictError`` if the trial has ended; ``InvalidInputError`` for a
        negative epoch, an empty metric name or a value that is not finite.
        """
        check_points(trial_id, epoch, values, member)
        if not values:
            return
        rows = [
            {"trial_id": trial_id, "member": member, "epoch": epoch, "metric": m, "value": float(v)}
            for m, v in values.items()
        ]
        with self._session() as session:
            _running_trial(session, trial_id)
            session.execute(_upsert_points(session, rows))

    def curve(self, trial_id: int) -> list[CurvePoint]:
        """The points of one trial (every member) by epoch, member, then metric; raises ``NotFoundError``."""
        statement = (
            select(CurvePointModel)
            .where(CurvePointModel.trial_id == trial_id)
            .order_by(CurvePointModel.epoch, CurvePointModel.member, CurvePointModel.metric)
        )
        with self._session(write=False) as session:
            TrialModel.find_or_raise(session, trial_id)
            return [row.to_record() for row in session.scalars(statement)]

    def curves(self, study_id: int) -> dict[int, list[CurvePoint]]:
        """The points of every trial of a study, keyed by trial id in trial-number order, in one query.

        A trial without points maps to an empty list. Raises ``NotFoundError``.
        """
        # Plain columns, not ORM objects: a 25-trial study has thousands of points, and building identity-mapped
        # objects for them cost about 70 ms per study on the comparison page.
        point = CurvePointModel
        statement = (
            select(TrialModel.id, point.epoch, point.metric, point.value, point.member)
            .outerjoin(point, point.trial_id == TrialModel.id)
            .where(TrialModel.study_id == study_id)
            .order_by(TrialModel.number, point.epoch, point.member, point.metric)
        )
        with self._session(write=False) as session:
            StudyModel.find_or_raise(session, study_id)
            result: dict[int, list[CurvePoint]] = {}
            for trial_id, epoch, metric, value, member in session.execute(statement):
                points = result.setdefault(trial_id, [])
                if epoch is not None:
                    points.append(CurvePoint(trial_id=trial_id, epoch=epoch, metric=metric, value=value, member=member))
            return result

    # -- sessions and errors ---------------------------------------------------------------------------

    @contextmanager
    def _session(self, *, write: bool = True) -> Iterator[Session]:
        """One transaction: commit on success, roll back on any error, translate driver errors.

        ``write=False`` marks a read-only transaction, which on SQLite takes no write lock.
        """
        session = Session(self._engine if write else self._read_engine)
        try:
            yield session
            session.commit()
        except BaseException as error:
            # A dead connection may fail the rollback too; the first error is the one worth reporting.
            with suppress(SQLAlchemyError):
                session.rollback()
            if isinstance(error, SQLAlchemyError):
                raise translate_error(error, self._engine) from error
            raise
        finally:
            session.close()


# -- helpers ---------------------------------------------------------------------------------------------


def _study_filter(
    statement: Select[Any],
    state: StudyState | str | None,
    space: str | None,
    task: str | None,
    comparison_id: int | None,
) -> Select[Any]:
    if state is not None:
        check_state(state, STUDY_STATES, "study")
        statement = statement.where(StudyModel.state == state)
    if space is not None:
        statement = statement.where(StudyModel.space == space)
    if task is not None:
        statement = statement.where(StudyModel.task == task)
    if comparison_id is not None:
        statement = statement.where(StudyModel.comparison_id == comparison_id)
    return statement


def _study_row(
    config: StudyConfig, *, comparison_id: int | None, replicate: int | None, created_at: datetime
) -> StudyModel:
    return StudyModel(
        comparison_id=comparison_id,
        replicate=replicate,
        task=config.task,
        space=config.space,
        config=config.model_dump(mode="json"),
        state="queued",
        created_at=created_at,
    )


def _move_study(session: Session, row: StudyModel, state: str, *, error: str | None) -> None:
    check_study_move(row.id, row.state, state)
    now = _now()
    row.state = state
    if error is not None:
        row.error = error
    if state == "running" and row.started_at is None:
        row.started_at = now
    if state in TERMINAL_STUDY_STATES:
        row.finished_at = now
    if row.comparison_id is not None:
        # The comparison's state summarises its studies'. Locking the comparison before reading them means
        # that two studies finishing at once cannot each summarise without the other.
        session.flush()
        comparison = ComparisonModel.find_or_raise(session, row.comparison_id, for_update=True)
        states = select(StudyModel.state).where(StudyModel.comparison_id == row.comparison_id)
        comparison.state = summary_state(set(session.scalars(states)))


def _running_trial(session: Session, trial_id: int) -> TrialModel:
    row = TrialModel.find_or_raise(session, trial_id, for_update=True)
    if row.state != "running":
        raise ConflictError(f"trial {trial_id} has already ended ({row.state})")
    return row


def _upsert_points(session: Session, rows: list[dict[str, Any]]) -> Executable:
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    point = CurvePointModel
    statement = insert(point).values(rows)
    return statement.on_conflict_do_update(
        index_elements=[
            CurvePointModel.trial_id,
            CurvePointModel.member,
            CurvePointModel.epoch,
            CurvePointModel.metric,
        ],
        set_={"value": statement.excluded.value},
    )
