"""The storage contract, run against SQLite and PostgreSQL (see conftest.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text

from bnn_errors import ConflictError, InvalidInputError, NotFoundError, StorageUnavailableError
from tuner.storage import ComparisonRecord, Storage, StudyRecord, alembic_config
from tuner.storage._models import Base
from tuner.study.config import ComparisonConfig, StudyConfig, derive_seed


def _study(space: str = "filter", task: str = "audio", **changes: Any) -> StudyConfig:
    fields: dict[str, Any] = {"task": task, "space": space, "n_trials": 4, "epochs": 2, "seed": 7, **changes}
    return StudyConfig.model_validate(fields)


def _comparison(storage: Storage, replicates: int = 2) -> tuple[ComparisonRecord, list[StudyRecord]]:
    config = ComparisonConfig(
        spaces=["filter", "latent"], replicates=replicates, n_trials=4, epochs=2, seed=1, parallelism=2
    )
    return storage.create_comparison(config)


def _running_study(storage: Storage) -> int:
    study = storage.create_study(_study())
    claimed = storage.claim_next_queued()
    assert claimed is not None and claimed.id == study.id
    return study.id


class _InjectedError(Exception):
    pass


def test_migrate_from_empty(empty_storage: Storage) -> None:
    assert empty_storage.current_revision() is None
    with pytest.raises(StorageUnavailableError, match="migrate"):
        empty_storage.list_studies()
    empty_storage.migrate()
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert empty_storage.current_revision() == head
    # The migrations build exactly the tables the models describe.
    with empty_storage.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    empty_storage.migrate()  # a second run is a no-op
    assert empty_storage.list_studies() == []


def test_create_and_read_study(storage: Storage) -> None:
    spec = _study(max_train=500, early_stopping={"rule": "median", "min_epochs": 2}, parallelism=2, width=32)
    created = storage.create_study(spec)
    assert created.state == "queued"
    assert created.created_at.tzinfo == UTC
    assert created.started_at is None and created.comparison_id is None
    read = storage.get_study(created.id)
    assert read == created
    assert read.config == spec
    assert (read.config.max_train, read.config.parallelism, read.config.width) == (500, 2, 32)
    assert read.config.early_stopping is not None and read.config.early_stopping.min_epochs == 2
    assert read.config.objective == "val_accuracy_last"


def test_list_filter_and_page(storage: Storage) -> None:
    ids = [
        storage.create_study(_study(space, task)).id
        for space, task in [
            ("filter", "audio"),
            ("latent", "audio"),
            ("filter", "cifar10"),
            ("latent", "cifar10"),
        ]
    ]
    ids.append(storage.create_study(_study("bop")).id)
    assert [s.id for s in storage.list_studies()] == ids[::-1]
    assert [s.id for s in storage.list_studies(space="filter")] == [ids[2], ids[0]]
    assert [s.id for s in storage.list_studies(task="cifar10", space="latent")] == [ids[3]]
    assert [s.id for s in storage.list_studies(limit=2, offset=1)] == [ids[3], ids[2]]
    assert storage.count_studies() == 5
    assert storage.count_studies(task="audio") == 3
    storage.claim_next_queued()
    assert [s.id for s in storage.list_studies(state="running")] == [ids[0]]
    assert storage.count_studies(state="queued") == 4
    with pytest.raises(InvalidInputError, match="unknown study state"):
        storage.list_studies(state="paused")
    with pytest.raises(InvalidInputError, match="limit"):
        storage.list_studies(limit=0)


def test_comparison_created_with_its_studies(storage: Storage) -> None:
    comparison, studies = _comparison(storage)
    assert comparison.config.spaces == ["filter", "latent"]
    assert comparison.config.parallelism == 2
    assert comparison.state == "queued"
    assert len(studies) == 4
    assert {(s.config.space, s.replicate) for s in studies} == {
        ("filter", 0),
        ("filter", 1),
        ("latent", 0),
        ("latent", 1),
    }
    assert all(s.comparison_id == comparison.id for s in studies)
    assert storage.comparison_studies(comparison.id) == sorted(studies, key=lambda s: (s.config.space, s.replicate))
    assert storage.get_comparison(comparison.id) == comparison
    assert storage.list_comparisons() == [comparison]
    assert storage.count_comparisons() == 1
    assert storage.count_studies(comparison_id=comparison.id) == 4


def test_comparison_creation_is_atomic(storage: Storage) -> None:
    def fail_on_studies(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO STUDIES"):
            raise _InjectedError("the database went away mid-transaction")

    event.listen(storage.engine, "before_cursor_execute", fail_on_studies)
    try:
        with pytest.raises(_InjectedError):
            _comparison(storage)
    finally:
        event.remove(storage.engine, "before_cursor_execute", fail_on_studies)
    assert storage.count_comparisons() == 0
    assert storage.count_studies() == 0
    # The same request goes through once the failure is gone.
    _comparison(storage)
    assert (storage.count_comparisons(), storage.count_studies()) == (1, 4)


def test_comparison_studies_follow_its_config(storage: Storage) -> None:
    comparison, studies = _comparison(storage, replicates=3)
    assert storage.get_comparison(comparison.id).config == comparison.config
    assert [(s.config.space, s.replicate) for s in studies] == [
        (space, r) for space in ("filter", "latent") for r in range(3)
    ]
    for study in studies:
        assert study.replicate is not None
        # The comparison's template, with the seed derived for the replicate (common across spaces).
        assert study.config.seed == derive_seed(1, study.replicate)
        assert (study.config.n_trials, study.config.parallelism) == (4, 2)
        assert study.comparison_id == comparison.id


def test_study_state_transitions(storage: Storage) -> None:
    first = storage.create_study(_study())
    second = storage.create_study(_study("latent"))
    claimed = storage.claim_next_queued()
    assert claimed is not None and claimed.id == first.id
    assert claimed.state == "running" and claimed.started_at is not None
    done = storage.set_study_state(first.id, "completed")
    assert done.finished_at is not None and done.is_finished
    with pytest.raises(ConflictError, match="completed and cannot become cancelled"):
        storage.set_study_state(first.id, "cancelled")
    with pytest.raises(ConflictError):
        storage.set_study_state(second.id, "completed")  # never ran
    failed = storage.set_study_state(second.id, "failed", error="no data set")
    assert (failed.state, failed.error) == ("failed", "no data set")
    assert storage.claim_next_queued() is None
    with pytest.raises(InvalidInputError):
        storage.set_study_state(first.id, "paused")  # type: ignore[arg-type]


def test_running_study_can_be_requeued(storage: Storage) -> None:
    study_id = _running_study(storage)
    assert storage.set_study_state(study_id, "queued").state == "queued"
    again = storage.claim_next_queued()
    assert again is not None and again.id == study_id


def test_comparison_state_follows_its_studies(storage: Storage) -> None:
    comparison, studies = _comparison(storage, replicates=1)
    storage.claim_next_queued()
    assert storage.get_comparison(comparison.id).state == "running"
    storage.claim_next_queued()
    for study in studies:
        storage.set_study_state(study.id, "completed")
    assert storage.get_comparison(comparison.id).state == "completed"
    with pytest.raises(ConflictError, match="nothing left to cancel"):
        storage.cancel_comparison(comparison.id)

    other, _ = _comparison(storage, replicates=1)
    storage.claim_next_queued()
    cancelled = storage.cancel_comparison(other.id)
    assert cancelled.state == "cancelled"
    assert {s.state for s in storage.comparison_studies(other.id)} == {"cancelled"}


def test_claims_never_overlap(storage_url: str, storage: Storage) -> None:
    ids = {storage.create_study(_study(seed=seed)).id for seed in range(8)}
    claimed: list[int] = []
    errors: list[BaseException] = []

    def claim_all(claimer: Storage) -> None:
        try:
            while (study := claimer.claim_next_queued()) is not None:
                claimed.append(study.id)
        except BaseException as error:
            errors.append(error)

    # Two threads share one Storage, a third has its own (as a second process would).
    with Storage(storage_url) as other:
        threads = [threading.Thread(target=claim_all, args=(claimer,)) for claimer in (storage, storage, other)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert errors == []
    assert sorted(claimed) == sorted(ids)


def test_concurrent_study_ends_keep_the_comparison_state(storage_url: str, storage: Storage) -> None:
    comparison, studies = _comparison(storage, replicates=3)
    for _ in studies:
        storage.claim_next_queued()
    errors: list[BaseException] = []

    def complete(study_id: int) -> None:
        try:
            with Storage(storage_url) as own:
                own.set_study_state(study_id, "completed")
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=complete, args=(study.id,)) for study in studies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert storage.get_comparison(comparison.id).state == "completed"


def test_trial_lifecycle(storage: Storage) -> None:
    study_id = _running_study(storage)
    queued = storage.create_study(_study("latent"))
    with pytest.raises(ConflictError, match="queued"):
        storage.create_trial(queued.id, 0, {"alpha": 0.01})
    trial = storage.create_trial(study_id, 0, {"alpha": 0.01, "gamma": 0.1})
    assert (trial.state, trial.attempts, trial.number) == ("running", 1, 0)
    assert trial.parameters == {"alpha": 0.01, "gamma": 0.1}
    with pytest.raises(ConflictError, match="number 0"):
        storage.create_trial(study_id, 0, {"alpha": 0.02})
    assert storage.increment_attempts(trial.id).attempts == 2
    placed = storage.set_worker(trial.id, "node-a.local", "abc123")
    assert (placed.worker_host, placed.node_id) == ("node-a.local", "abc123")
    with pytest.raises(InvalidInputError, match="needs an objective"):
        storage.finish_trial(trial.id, "completed")
    with pytest.raises(InvalidInputError, match="ends in one of"):
        storage.finish_trial(trial.id, "running")
    done = storage.finish_trial(trial.id, "completed", objective=0.91)
    assert (done.state, done.objective) == ("completed", 0.91)
    assert done.finished_at is not None and done.finished_at >= done.started_at
    with pytest.raises(ConflictError, match="already ended"):
        storage.finish_trial(trial.id, "failed", error="late")
    with pytest.raises(ConflictError):
        storage.increment_attempts(trial.id)

    second = storage.create_trial(study_id, 1, {"alpha": 0.02, "gamma": 0.2})
    storage.finish_trial(second.id, "failed", error="worker died twice")
    assert [t.number for t in storage.trials(study_id)] == [0, 1]
    assert [t.id for t in storage.trials(study_id, state="failed")] == [second.id]
    assert storage.trials(study_id, state="failed")[0].error == "worker died twice"


def test_curve_upsert_overwrites_a_retried_epoch(storage: Storage) -> None:
    trial = storage.create_trial(_running_study(storage), 0, {"alpha": 0.01})
    storage.add_points(trial.id, 0, {"train_loss": 2.0, "val_accuracy": 0.3})
    storage.add_points(trial.id, 1, {"train_loss": 1.5})
    storage.add_points(trial.id, 0, {"train_loss": 1.9})
    curve = storage.curve(trial.id)
    assert [(p.epoch, p.metric, p.value) for p in curve] == [
        (0, "train_loss", 1.9),
        (0, "val_accuracy", 0.3),
        (1, "train_loss", 1.5),
    ]
    with pytest.raises(InvalidInputError, match="not finite"):
        storage.add_points(trial.id, 2, {"train_loss": float("nan")})
    with pytest.raises(InvalidInputError, match="epochs start at 0"):
        storage.add_points(trial.id, -1, {"train_loss": 1.0})
    storage.finish_trial(trial.id, "completed", objective=0.3)
    with pytest.raises(ConflictError):
        storage.add_points(trial.id, 2, {"train_loss": 1.0})
    assert len(storage.curve(trial.id)) == 3


def test_curves_of_a_study_in_one_query(storage: Storage) -> None:
    study_id = _running_study(storage)
    trials = [storage.create_trial(study_id, number, {"alpha": 0.01 * (number + 1)}) for number in range(5)]
    for trial in trials[:4]:
        for epoch in range(3):
            storage.add_points(trial.id, epoch, {"val_accuracy": 0.1 * epoch, "flip_ratio": 0.01})

    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(storage.engine, "before_cursor_execute", count)
    try:
        curves = storage.curves(study_id)
    finally:
        event.remove(storage.engine, "before_cursor_execute", count)
    # One lookup of the study, one query for every curve, however many trials there are.
    assert len(statements) == 2
    assert list(curves) == [trial.id for trial in trials]
    assert curves[trials[4].id] == []
    assert curves[trials[1].id] == storage.curve(trials[1].id)
    assert len(curves[trials[0].id]) == 6


def test_unknown_ids_raise_not_found(storage: Storage) -> None:
    calls: list[Callable[[], object]] = [
        lambda: storage.get_study(999),
        lambda: storage.set_study_state(999, "cancelled"),
        lambda: storage.trials(999),
        lambda: storage.curves(999),
        lambda: storage.curve(999),
        lambda: storage.add_points(999, 0, {"loss": 1.0}),
        lambda: storage.finish_trial(999, "failed"),
        lambda: storage.create_trial(999, 0, {}),
        lambda: storage.get_comparison(999),
        lambda: storage.comparison_studies(999),
        lambda: storage.cancel_comparison(999),
    ]
    for call in calls:
        with pytest.raises(NotFoundError, match="999"):
            call()


def test_unreachable_database_names_the_setting() -> None:
    with Storage("postgresql+psycopg://postgres:hunter2@127.0.0.1:1/x") as storage:
        calls: list[Callable[[], object]] = [storage.migrate, storage.ping, lambda: storage.get_study(1)]
        for call in calls:
            with pytest.raises(StorageUnavailableError, match="BNN_TUNE_DATABASE_URL") as info:
                call()
            message = str(info.value)
            assert "127.0.0.1:1/x" in message
            assert "hunter2" not in message and "***" in message


def test_sqlite_in_a_missing_directory_is_unavailable(tmp_path: Path) -> None:
    with (
        Storage(f"sqlite:///{tmp_path / 'missing' / 'bnn.db'}") as storage,
        pytest.raises(StorageUnavailableError, match="BNN_TUNE_DATABASE_URL"),
    ):
        storage.migrate()


def test_malformed_url_is_invalid_input() -> None:
    with pytest.raises(InvalidInputError, match="BNN_TUNE_DATABASE_URL"):
        Storage("not a url")
    with pytest.raises(InvalidInputError, match="BNN_TUNE_DATABASE_URL"):
        Storage("nosuchdb://host/db")


def test_two_storages_share_one_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    with Storage(url) as writer, Storage(url) as reader:
        writer.migrate()
        assert reader.current_revision() == writer.current_revision()
        created = writer.create_study(_study())
        assert reader.get_study(created.id) == created
        claimed = reader.claim_next_queued()
        assert claimed is not None
        assert writer.get_study(created.id).state == "running"
        with writer.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_migration_0002_carries_rows_into_their_config(empty_storage: Storage) -> None:
    empty_storage.migrate("0001")
    created = "2026-12-01 10:00:00+00:00"
    with empty_storage.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO comparisons (id, task, spaces, replicates, n_trials, epochs, seed, settings, state, "
                "created_at) VALUES (1, 'audio', :spaces, 1, 3, 2, 5, :settings, 'completed', :created)"
            ),
            {"spaces": '["latent", "filter"]', "settings": '{"parallelism": 1, "batch_size": 32}', "created": created},
        )
        connection.execute(
            text(
                "INSERT INTO studies (id, comparison_id, replicate, task, space, objective, n_trials, parallelism, "
                "epochs, batch_size, max_train, seed, early_stopping, state, created_at) VALUES (1, 1, 0, 'audio', "
                "'filter', 'val_accuracy_best', 3, 1, 2, 32, 300, 11, :rule, 'completed', :created)"
            ),
            {"rule": '{"rule": "median"}', "created": created},
        )
    empty_storage.migrate()
    study = empty_storage.get_study(1)
    assert (study.config.space, study.config.objective, study.config.max_train, study.config.seed) == (
        "filter",
        "val_accuracy_best",
        300,
        11,
    )
    assert study.config.early_stopping is not None and study.config.early_stopping.rule == "median"
    assert study.config.width is None  # an option added later takes its default
    comparison = empty_storage.get_comparison(1).config
    assert (comparison.spaces, comparison.replicates, comparison.batch_size) == (["latent", "filter"], 1, 32)
    with empty_storage.engine.begin() as connection:  # and back: the columns return, filled from the configs
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "0001")
        row = connection.execute(text("SELECT space, max_train, batch_size FROM studies")).one()
    assert tuple(row) == ("filter", 300, 32)
