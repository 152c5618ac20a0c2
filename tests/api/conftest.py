"""API fixtures: the real app on a real database (a SQLite file or a PostgreSQL database), stored results.

PostgreSQL: the session's database from the root conftest, emptied after every test that uses it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from api import create_app
from search_spaces import RangeParameter, get_space
from tuner.settings import Settings
from tuner.storage import Storage, StudyRecord
from tuner.study.config import ComparisonConfig, StudyConfig
from tuner.study.submit import submit_comparison, submit_study

if TYPE_CHECKING:
    # Imported where used at run time, after pytest_configure has silenced its import-time warning.
    from fastapi.testclient import TestClient

EPOCHS = 2  # of every stored trial
METRICS = ("train_loss", "train_accuracy", "val_accuracy", "test_accuracy", "flip_ratio", "seconds")

ClientFactory = Callable[..., AbstractContextManager["TestClient"]]


def pytest_configure(config: pytest.Config) -> None:
    # Starlette's test client warns that it will move to another HTTP library; nothing here depends on which.
    config.addinivalue_line("filterwarnings", "ignore:Using `httpx` with `starlette.testclient`")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """URL of a SQLite file in the test's temporary directory."""
    return f"sqlite:///{tmp_path / 'bnn-tune.db'}"


@pytest.fixture
def database_url(storage_url: str) -> str:
    """URL of an empty database: a SQLite file, or the session's PostgreSQL database (emptied afterwards)."""
    return storage_url


def make_settings(database_url: str, **values: Any) -> Settings:
    """Settings for a test: the given database, no token unless asked, everything else as given."""
    values.setdefault("api_token", None)
    values.setdefault("auth_reads", False)
    return Settings(database_url=database_url, **values)


@pytest.fixture
def make_client(sqlite_url: str) -> ClientFactory:
    """A factory of test clients on the app (started, without scheduler) with settings changed as asked."""

    from fastapi.testclient import TestClient

    @contextmanager
    def started(database_url: str = sqlite_url, **values: Any) -> Iterator[TestClient]:
        app = create_app(make_settings(database_url, **values), run_scheduler=False)
        with TestClient(app) as client:
            yield client

    return started


@pytest.fixture
def client(make_client: ClientFactory) -> Iterator[TestClient]:
    """A client of the app on a fresh SQLite file."""
    with make_client() as started:
        yield started


@pytest.fixture
def any_client(make_client: ClientFactory, database_url: str) -> Iterator[TestClient]:
    """A client of the app on a fresh database: once on SQLite, once on PostgreSQL."""
    with make_client(database_url) as started:
        yield started


def storage_of(client: TestClient) -> Storage:
    """The storage the client's app works on."""
    storage: Storage = client.app.state.storage  # type: ignore[attr-defined]
    return storage


def a_point(space: str, fraction: float) -> dict[str, object]:
    """A valid point of ``space``: range parameters at ``fraction`` of their range, choices at the first."""
    point: dict[str, object] = {}
    for parameter in get_space(space).parameters:
        if isinstance(parameter, RangeParameter):
            point[parameter.name] = parameter.lower + fraction * (parameter.upper - parameter.lower)
        else:
            point[parameter.name] = parameter.choices[0]
    return point


def run_study(storage: Storage, study: StudyRecord, objectives: Sequence[float | None]) -> None:
    """Play a study through as the scheduler would: trials with curves (``None``: a failed one), then done."""
    storage.set_study_state(study.id, "running")
    for number, objective in enumerate(objectives):
        point = a_point(study.config.space, (number + 1) / (len(objectives) + 2))
        trial = storage.create_trial(study.id, number, point)
        for epoch in range(1, EPOCHS + 1):
            values = {metric: 0.1 * epoch + 0.01 * i for i, metric in enumerate(METRICS)}
            if objective is not None:
                values["val_accuracy"] = objective * epoch / EPOCHS
            storage.add_points(trial.id, epoch, values)
        if objective is None:
            storage.finish_trial(trial.id, "failed", error="diverged")
        else:
            storage.finish_trial(trial.id, "completed", objective=objective)
    storage.set_study_state(study.id, "completed")


def finished_study(
    storage: Storage, space: str = "filter", objectives: Sequence[float | None] = (0.5, 0.8, 0.7)
) -> int:
    """The id of a new study of ``space`` run to completion with the given objectives."""
    config = StudyConfig(task="audio", space=space, n_trials=len(objectives), epochs=EPOCHS)
    study = submit_study(storage, Settings(), config)
    run_study(storage, study, objectives)
    return study.id


def finished_comparison(storage: Storage, replicates: int = 3, n_trials: int = 4) -> int:
    """The id of a new latent-vs-filter comparison whose studies all completed (filter learns faster)."""
    config = ComparisonConfig(spaces=["latent", "filter"], replicates=replicates, n_trials=n_trials, epochs=EPOCHS)
    comparison, studies = submit_comparison(storage, Settings(), config)
    for study in studies:
        assert study.replicate is not None
        step = 0.2 if study.config.space == "filter" else 0.1
        objectives = [min(0.95, 0.3 + step * t + 0.01 * study.replicate) for t in range(n_trials)]
        run_study(storage, study, objectives)
    return comparison.id
