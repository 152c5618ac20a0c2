"""Building what runs studies from the settings: the database, the executor and the scheduler.

The CLI's ``study run`` and ``compare`` run the scheduler's loop in their own process until their studies finish;
the service runs the same loop in a background thread.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from sqlalchemy.engine import make_url

from bnn_errors import NotFoundError
from tuner.execution.executor import Executor, InlineExecutor
from tuner.execution.scheduler import Scheduler
from tuner.settings import Settings
from tuner.storage import Storage

__all__ = ["ExecutorKind", "build_executor", "build_scheduler", "open_storage"]

ExecutorKind = Literal["ray", "inline"]


def open_storage(settings: Settings, *, must_exist: bool = False) -> Storage:
    """The configured database, migrated to the newest schema.

    ``must_exist`` is for commands that show or go on with what is stored: an SQLite file that does not exist is then
    an error instead of a new, empty database left behind as a side effect.

    Raises:
        StorageUnavailableError: the database cannot be reached.
        NotFoundError: ``must_exist`` and the SQLite file does not exist.
    """
    if must_exist:
        url = make_url(settings.database_url)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            path = Path(url.database)  # type: ignore[arg-type]
            if not path.exists():
                raise NotFoundError(
                    f"no database at {path.resolve()} (BNN_TUNE_DATABASE_URL): nothing has been run with it yet"
                )
    storage = Storage(settings.database_url)
    storage.migrate()
    return storage


def build_executor(settings: Settings, kind: ExecutorKind = "ray", *, batch: bool | None = None) -> Executor:
    """A Ray executor (local Ray, or the cluster at the configured address) or the in-process one.

    With ``batch`` (by default the ``batch_trials`` setting), the trials submitted in one scheduler round that can
    share a batched model train as one (``trainers.batched``; see ``tuner.execution.worker.group_jobs`` for which): a
    comparison's replicate studies then advance in lockstep, one batch per round.
    """
    if batch is None:
        batch = settings.batch_trials
    if kind == "inline":
        return InlineExecutor(batch=batch)
    from tuner.execution.ray_executor import RayExecutor  # Ray is imported only when it is used

    return RayExecutor(
        address=settings.ray_address,
        num_cpus_per_trial=settings.num_cpus_per_trial,
        num_gpus_per_trial=settings.num_gpus_per_trial,
        resources_per_trial=settings.resources_per_trial,
        batch=batch,
    )


def build_scheduler(storage: Storage, executor: Executor, settings: Settings) -> Scheduler:
    """A scheduler configured from the settings."""
    return Scheduler(
        storage,
        executor,
        database_url=settings.database_url,
        max_trial_retries=settings.max_trial_retries,
        max_concurrent_studies=settings.max_concurrent_studies,
        poll_seconds=settings.scheduler_poll_seconds,
        data_dir=None if settings.data_dir is None else str(settings.data_dir),
        suggestion_workers=settings.suggestion_workers,
    )
