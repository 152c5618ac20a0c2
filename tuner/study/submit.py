"""Submitting work: validate a study or comparison request and store it, queued, for the scheduler.

Everything is checked before anything is written: an unknown task or space, a count out of range or over a
configured limit raises ``InvalidInputError`` naming the field, and the database is left untouched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bnn_errors import InvalidInputError
from search_spaces import UnknownSpaceError, get_space
from trainers.data import TASKS
from tuner.execution.worker import OBJECTIVES
from tuner.settings import Settings
from tuner.storage import ComparisonRecord, ComparisonSpec, Storage, StudyRecord, StudySpec
from tuner.study.early_stopping import EarlyStopping

__all__ = ["StudyRequest", "derive_seed", "submit_comparison", "submit_study"]

MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class StudyRequest:
    """What a user asks of one study (a comparison asks the same of each of its replicate studies)."""

    task: str
    space: str
    n_trials: int
    epochs: int
    seed: int = 0
    parallelism: int = 1
    batch_size: int = 64
    objective: str = "val_accuracy_last"
    max_train: int | None = None
    early_stopping: dict[str, Any] | None = None


def derive_seed(master_seed: int, replicate: int) -> int:
    """The seed of replicate ``replicate`` of a comparison, derived from its master seed.

    Replicate r of every space gets the same seed (common random numbers: the spaces are compared on the same
    initializations and data orders), and different replicates get statistically independent seeds.
    """
    state = np.random.SeedSequence([master_seed, replicate]).generate_state(1, dtype=np.uint32)
    return int(state[0])


def _check_int(name: str, value: int, low: int, high: int, limit_name: str | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(f"{name} must be an integer, got {value!r}")
    if not low <= value <= high:
        where = f" (the limit set by {limit_name})" if limit_name else ""
        raise InvalidInputError(f"{name} must be in [{low}, {high}]{where}, got {value}")


def _check_request(request: StudyRequest, settings: Settings) -> None:
    if request.task not in TASKS:
        raise InvalidInputError(f"task must be one of {', '.join(TASKS)}; got {request.task!r}")
    try:
        get_space(request.space)
    except UnknownSpaceError as exc:
        raise InvalidInputError(f"space: {exc}") from exc
    _check_int("n_trials", request.n_trials, 1, settings.max_trials_per_study, "BNN_TUNE_MAX_TRIALS_PER_STUDY")
    _check_int("epochs", request.epochs, 1, settings.max_epochs, "BNN_TUNE_MAX_EPOCHS")
    _check_int("parallelism", request.parallelism, 1, request.n_trials)
    _check_int("batch_size", request.batch_size, 1, 65536)
    _check_int("seed", request.seed, 0, MAX_SEED)
    if request.max_train is not None:
        _check_int("max_train", request.max_train, 1, 10_000_000)
    EarlyStopping.from_config(request.early_stopping)
    if request.objective not in OBJECTIVES:
        raise InvalidInputError(f"objective must be one of {', '.join(OBJECTIVES)}; got {request.objective!r}")


def _study_spec(request: StudyRequest, *, space: str, seed: int, replicate: int | None) -> StudySpec:
    return StudySpec(
        task=request.task,
        space=space,
        n_trials=request.n_trials,
        epochs=request.epochs,
        seed=seed,
        parallelism=request.parallelism,
        batch_size=request.batch_size,
        objective=request.objective,
        max_train=request.max_train,
        early_stopping=request.early_stopping,
        replicate=replicate,
    )


def submit_study(storage: Storage, settings: Settings, request: StudyRequest) -> StudyRecord:
    """Validate and store one study, queued. Raises ``InvalidInputError`` naming the bad field."""
    _check_request(request, settings)
    return storage.create_study(_study_spec(request, space=request.space, seed=request.seed, replicate=None))


def submit_comparison(
    storage: Storage, settings: Settings, request: StudyRequest, spaces: Sequence[str], replicates: int
) -> tuple[ComparisonRecord, list[StudyRecord]]:
    """Validate and store a comparison: ``replicates`` studies per space, in one transaction.

    ``request.space`` is ignored; ``request.seed`` is the master seed from which each replicate's seed is
    derived (:func:`derive_seed`). Raises ``InvalidInputError`` naming the bad field.
    """
    if not spaces:
        raise InvalidInputError("spaces must name at least one search space")
    if len(set(spaces)) != len(spaces):
        raise InvalidInputError(f"spaces must not repeat a space, got {list(spaces)}")
    _check_int("replicates", replicates, 1, settings.max_replicates, "BNN_TUNE_MAX_REPLICATES")
    for space in spaces:
        _check_request(StudyRequest(**{**request.__dict__, "space": space}), settings)
    studies = [
        _study_spec(request, space=space, seed=derive_seed(request.seed, r), replicate=r)
        for space in spaces
        for r in range(replicates)
    ]
    spec = ComparisonSpec(
        task=request.task,
        spaces=tuple(spaces),
        replicates=replicates,
        n_trials=request.n_trials,
        epochs=request.epochs,
        seed=request.seed,
        settings={
            "parallelism": request.parallelism,
            "batch_size": request.batch_size,
            "objective": request.objective,
            "max_train": request.max_train,
        },
    )
    return storage.create_comparison(spec, studies)
