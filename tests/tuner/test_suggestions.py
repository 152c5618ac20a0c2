"""Suggestions from worker processes: the same points as in the scheduler's process, and a scheduler that uses them."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import psutil
import pytest

from search_spaces import FILTER_SPACE, get_space, register_space, unregister_space
from tuner.bo.adapters import SUGGESTERS, new_adapter
from tuner.bo.history import HistoryTrial
from tuner.bo.suggestions import SuggestionPool, SuggestionRequest, suggest_from_history
from tuner.execution.executor import InlineExecutor
from tuner.execution.scheduler import Scheduler
from tuner.settings import Settings
from tuner.storage import Storage
from tuner.study.config import ComparisonConfig, StudyConfig, Suggester
from tuner.study.submit import submit_comparison, submit_study


def objective(parameters: dict[str, object]) -> float:
    """A smooth made-up objective with its maximum at alpha = 1e-3, gamma = 1e-2."""
    alpha, gamma = float(parameters["alpha"]), float(parameters["gamma"])  # type: ignore[arg-type]
    return 0.9 - 0.05 * (math.log10(alpha) + 3) ** 2 - 0.02 * (math.log10(gamma) + 2) ** 2


def history_of(n: int, seed: int, suggester: Suggester = "botorch") -> list[HistoryTrial]:
    """``n`` trials of a filter study suggested and completed one after another by a live adapter."""
    adapter = new_adapter(suggester, FILTER_SPACE, seed=seed, n_initial=5)
    history = []
    for _ in range(n):
        [(index, parameters)] = adapter.suggest(1)
        adapter.complete(index, objective(parameters))
        history.append(HistoryTrial(index, parameters, "completed", objective(parameters)))
    return history


def request(history: list[HistoryTrial], seed: int, suggester: Suggester = "botorch") -> SuggestionRequest:
    return SuggestionRequest.of(
        "filter", seed=seed, n_initial=5, objective="val_accuracy", history=history, suggester=suggester
    )


@pytest.mark.parametrize("suggester", SUGGESTERS)
@pytest.mark.parametrize("done", [3, 6])
def test_a_rebuilt_study_continues_the_live_one(suggester: Suggester, done: int) -> None:
    # 3: inside the Sobol start (the sequence goes on); 6: past it (the GP's suggestion is the same).
    adapter = new_adapter(suggester, FILTER_SPACE, seed=4, n_initial=5)
    history = []
    for _ in range(done):
        [(index, parameters)] = adapter.suggest(1)
        adapter.complete(index, objective(parameters))
        history.append(HistoryTrial(index, parameters, "completed", objective(parameters)))
    [(_, live_next)] = adapter.suggest(1)
    assert suggest_from_history(request(history, seed=4, suggester=suggester)) == live_next


@pytest.mark.parametrize("suggester", SUGGESTERS)
def test_workers_suggest_what_the_scheduler_process_would(suggester: Suggester) -> None:
    histories = {seed: history_of(6, seed, suggester) for seed in (1, 2)}
    requests = {seed: request(h, seed, suggester) for seed, h in histories.items()}
    here = {seed: suggest_from_history(r) for seed, r in requests.items()}
    with SuggestionPool(2) as pool:
        assert pool.suggest(requests) == here
    for seed, parameters in here.items():
        assert parameters is not None
        assert parameters not in [dict(t.parameters) for t in histories[seed]]


def test_running_trials_cannot_be_sent() -> None:
    with pytest.raises(ValueError, match=r"trials \[0\] are still running"):
        SuggestionRequest.of(
            "filter",
            seed=0,
            n_initial=5,
            objective="val_accuracy",
            history=[HistoryTrial(0, {"alpha": 1e-3, "gamma": 1e-2}, "running")],
        )


def test_a_dead_worker_is_answered_here_and_the_pool_restarts() -> None:
    requests = {seed: request(history_of(2, seed), seed) for seed in (5, 6)}
    expected = {seed: suggest_from_history(r) for seed, r in requests.items()}
    with SuggestionPool(1) as pool:
        assert pool.suggest(requests) == expected
        for child in psutil.Process().children(recursive=True):
            if "spawn" in " ".join(child.cmdline()):
                child.kill()
        assert pool.suggest(requests) == expected
        assert pool.suggest(requests) == expected


def test_a_space_registered_only_in_the_scheduler_process_falls_back_to_it(tmp_path: Path) -> None:
    local = dataclasses.replace(get_space("filter"), name="filter_local_only")
    register_space(local)
    try:
        storage = Storage(f"sqlite:///{tmp_path / 'local.db'}")
        storage.migrate()
        study = submit_study(
            storage,
            Settings(),
            StudyConfig(task="audio", space=local.name, n_trials=2, epochs=1, seed=0, max_train=200),
        )
        scheduler = Scheduler(
            storage, InlineExecutor(), database_url=storage.url, poll_seconds=0.01, suggestion_workers=1
        )
        try:
            scheduler.run(until_idle=True)
        finally:
            scheduler.close()
        assert storage.get_study(study.id).state == "completed"
        assert [t.number for t in storage.trials(study.id)] == [0, 1]
    finally:
        unregister_space(local.name)


@pytest.mark.parametrize("suggester", SUGGESTERS)
def test_scheduler_with_workers_runs_a_comparison_with_the_points_of_its_history(
    tmp_path: Path, suggester: Suggester
) -> None:
    storage = Storage(f"sqlite:///{tmp_path / 'pool.db'}")
    storage.migrate()
    quick = StudyConfig(task="audio", space="filter", n_trials=6, epochs=1, seed=3, max_train=200, suggester=suggester)
    _, studies = submit_comparison(storage, Settings(), ComparisonConfig.of(quick, ["latent", "filter"], 1))
    scheduler = Scheduler(storage, InlineExecutor(), database_url=storage.url, poll_seconds=0.01, suggestion_workers=2)
    try:
        scheduler.run(until_idle=True)
    finally:
        scheduler.close()
    for record in studies:
        study = storage.get_study(record.id)
        assert study.state == "completed"
        trials = storage.trials(study.id)
        assert [t.number for t in trials] == list(range(6))
        assert all(t.state == "completed" for t in trials)
    # Every point of the filter study, the Sobol ones and the BoTorch one, is what its history before it gives.
    filter_study = next(s for s in studies if s.config.space == "filter")
    trials = storage.trials(filter_study.id)
    history = [HistoryTrial(t.number, t.parameters, "completed", t.objective) for t in trials]
    for k in (0, 4, 5):
        replay = SuggestionRequest.of(
            "filter",
            seed=filter_study.config.seed,
            n_initial=5,
            objective="val_accuracy",
            history=history[:k],
            suggester=suggester,
        )
        assert suggest_from_history(replay) == trials[k].parameters
