"""Helpers of the results-page tests: a SQLite file seeded through Storage, and an app serving only the pages.

The app here includes just the pages router and sets ``app.state.storage``, the one thing the router needs
from the service, so that the page tests do not depend on the rest of the API.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from api.routes.pages import router
from tuner.storage import Storage
from tuner.study.config import ComparisonConfig, StudyConfig, stored_config

SPACES = ("latent", "filter")
REPLICATES = 3
N_TRIALS = 5
EPOCHS = 4
# A task name with markup in it: the pages must show it as text, never as HTML.
HOSTILE_TASK = "<script>alert(1)</script>&task"


@dataclass(frozen=True)
class Seeded:
    """Ids of what :func:`seed` stored."""

    finished: int
    empty: int
    study: int


def build_app(storage: Storage) -> FastAPI:
    """A FastAPI app with the pages router over ``storage``."""
    app = FastAPI()
    app.state.storage = storage
    app.include_router(router)
    return app


def _objective(space: str, replicate: int, number: int) -> float:
    """Validation accuracies that rise with the trial number, the filter space a little sooner."""
    lead = 1.5 if space == "filter" else 0.0
    return 0.55 + 0.3 * (1.0 - math.exp(-(number + lead) / 2.0)) + 0.01 * replicate


def _run_study(storage: Storage, study_id: int, space: str, replicate: int) -> None:
    storage.set_study_state(study_id, "running")
    for number in range(N_TRIALS):
        parameters = {"alpha": 10.0 ** -(number + 2), "gamma": 0.1 * (number + 1)}
        if space == "latent":
            parameters = {"lr": 0.01 * (number + 1), "weight_decay": 1e-4, "momentum": 0.9}
        trial = storage.create_trial(study_id, number, parameters)
        final = _objective(space, replicate, number)
        if number == 1 and replicate == 2:
            storage.finish_trial(trial.id, "failed", error="training diverged at epoch 2")
            continue
        for epoch in range(1, EPOCHS + 1):
            storage.add_points(
                trial.id,
                epoch,
                {
                    "val_accuracy": final * epoch / EPOCHS,
                    "train_loss": 2.0 / epoch,
                    "flip_ratio": 0.05 / epoch**2,
                },
            )
        storage.finish_trial(trial.id, "completed", objective=final)
    storage.set_study_state(study_id, "completed")


def seed(path: Path) -> tuple[Storage, Seeded]:
    """A migrated SQLite storage at ``path`` holding a finished comparison, an empty one and a lone study.

    The finished comparison has 2 spaces x 3 replicates x 5 trials with learning curves (one trial failed);
    the empty one has 1 replicate per space and no trial yet; the lone study is running with two trials.
    """
    storage = Storage(f"sqlite:///{path}")
    storage.migrate()
    shape: dict[str, Any] = {"spaces": list(SPACES), "n_trials": N_TRIALS, "epochs": EPOCHS}
    finished, records = storage.create_comparison(ComparisonConfig(**shape, replicates=REPLICATES))
    for record in records:
        assert record.replicate is not None
        _run_study(storage, record.id, record.config.space, record.replicate)
    # A row as another writer could have left it: requests cannot name such a task, the pages must still escape it.
    hostile = stored_config(ComparisonConfig, {**shape, "task": HOSTILE_TASK, "replicates": 1, "seed": 1})
    empty, _ = storage.create_comparison(hostile)
    lone = storage.create_study(StudyConfig(space="filter", n_trials=N_TRIALS, epochs=EPOCHS, seed=7))
    storage.set_study_state(lone.id, "running")
    for number in range(2):
        trial = storage.create_trial(lone.id, number, {"alpha": 1e-3, "gamma": 0.1})
        storage.add_points(trial.id, 1, {"val_accuracy": 0.6, "flip_ratio": 0.01})
        storage.finish_trial(trial.id, "completed", objective=0.6 + 0.1 * number)
    return storage, Seeded(finished=finished.id, empty=empty.id, study=lone.id)
