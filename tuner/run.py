"""Running a study or a comparison from Python, to completion, against a database: the public API's entry points.

The same path as ``bnn-tune study run`` and ``bnn-tune compare``: the configuration is stored (queued), the
scheduler's loop runs in this process until the work has finished, and the typed report is read back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tuner.analysis.reports import ComparisonReport, StudyDetailReport, comparison_view, study_view
from tuner.execution.runner import ExecutorKind, build_executor, build_scheduler, open_storage
from tuner.settings import Settings, get_settings
from tuner.storage import Storage
from tuner.study.config import ComparisonConfig, StudyConfig
from tuner.study.submit import submit_comparison, submit_study

__all__ = ["Progress", "run_comparison", "run_study"]

Progress = Callable[[int, int], None]
"""Called after every scheduler tick with (trials ended, trials asked for)."""


def run_study(
    config: StudyConfig,
    database_url: str | None = None,
    *,
    executor: ExecutorKind = "inline",
    batch_trials: bool = False,
    on_progress: Progress | None = None,
) -> StudyDetailReport:
    """Store ``config`` as a new study, run it to the end, and return its report (trials and their curves).

    Args:
        config: the study.
        database_url: an SQLAlchemy URL (SQLite file or PostgreSQL); None: ``BNN_TUNE_DATABASE_URL`` or its default.
        executor: ``"inline"`` trains trial after trial in this process; ``"ray"`` on Ray workers (a local Ray, or
            the cluster at ``BNN_TUNE_RAY_ADDRESS``).
        batch_trials: train the trials of one scheduler round that fit together as one batched model.
        on_progress: called after every scheduler tick with (trials ended, trials asked for).

    Raises:
        InvalidInputError: the configuration is over a configured limit (the field is named).
        StorageUnavailableError: the database cannot be reached.
    """
    settings, storage = _open(database_url)
    study = submit_study(storage, settings, config)
    _run(settings, storage, [study.id], executor, batch_trials, on_progress)
    return study_view(storage, study.id)


def run_comparison(
    config: ComparisonConfig,
    database_url: str | None = None,
    *,
    executor: ExecutorKind = "inline",
    batch_trials: bool = False,
    on_progress: Progress | None = None,
) -> ComparisonReport:
    """Store ``config`` as a new comparison, run its studies to the end, and return its report with the analysis.

    Arguments and errors as :func:`run_study`.
    """
    settings, storage = _open(database_url)
    comparison, studies = submit_comparison(storage, settings, config)
    _run(settings, storage, [s.id for s in studies], executor, batch_trials, on_progress)
    return comparison_view(storage, comparison.id)


def _open(database_url: str | None) -> tuple[Settings, Storage]:
    settings = get_settings()
    if database_url is not None:
        settings = settings.model_copy(update={"database_url": database_url})
    return settings, open_storage(settings)


def _run(
    settings: Settings,
    storage: Storage,
    study_ids: Sequence[int],
    executor_kind: ExecutorKind,
    batch_trials: bool,
    on_progress: Progress | None,
) -> None:
    executor = build_executor(settings, executor_kind, batch=batch_trials)
    scheduler = build_scheduler(storage, executor, settings)
    total = sum(storage.get_study(i).config.n_trials for i in study_ids)

    def progress() -> None:
        if on_progress is not None:
            ended = sum(study_view(storage, i, with_points=False).trials_done for i in study_ids)
            on_progress(ended, total)

    try:
        scheduler.run(studies=study_ids, on_tick=progress)
    finally:
        scheduler.close()
        executor.shutdown()
