"""The Ax adapter: suggestions inside the space, seeding, a short optimization, rebuilding from history."""

from __future__ import annotations

import math
from collections.abc import Mapping

import pytest
import torch

from bnn_errors import ConflictError, InvalidInputError, NotFoundError
from search_spaces import (
    FILTER_SPACE,
    LATENT_SPACE,
    ChoiceParameter,
    RangeParameter,
    SearchSpace,
)
from tuner.bo.ax_adapter import AxAdapter, HistoryTrial

torch.set_num_threads(1)

# Ax, BoTorch and GPyTorch use APIs that pandas and torch deprecate; pytest would list every such warning.
pytestmark = pytest.mark.filterwarnings(r"ignore::DeprecationWarning:(ax|botorch|gpytorch|linear_operator)\.")


def bowl(point: Mapping[str, object]) -> float:
    """A cheap objective with its maximum 0 at alpha = 1e-3, gamma = 1e-1 (inside the filter space)."""
    alpha = float(point["alpha"])  # type: ignore[arg-type]
    gamma = float(point["gamma"])  # type: ignore[arg-type]
    return -((math.log10(alpha) + 3) ** 2) - (math.log10(gamma) + 1) ** 2


def assert_inside(space: SearchSpace, point: Mapping[str, object]) -> None:
    space.validate(point)
    for parameter in space.parameters:
        value = point[parameter.name]
        if isinstance(parameter, RangeParameter):
            assert type(value) is float
            assert parameter.lower <= value <= parameter.upper
        else:
            assert value in parameter.choices


def run_trials(adapter: AxAdapter, n: int, *, fail: frozenset[int] = frozenset()) -> list[HistoryTrial]:
    """Suggest and finish ``n`` trials one at a time on the bowl; the numbers in ``fail`` fail instead."""
    history = []
    for _ in range(n):
        [(index, point)] = adapter.suggest()
        assert_inside(adapter.space, point)
        if index in fail:
            adapter.fail(index, "diverged")
            history.append(HistoryTrial(index, point, "failed"))
        else:
            adapter.complete(index, bowl(point))
            history.append(HistoryTrial(index, point, "completed", bowl(point)))
    return history


def test_latent_suggestions_lie_inside_the_space() -> None:
    # The filter space's suggestions are checked in every study that run_trials drives.
    adapter = AxAdapter(LATENT_SPACE, seed=7, n_initial=3)
    for index in range(4):
        [(got, point)] = adapter.suggest()
        assert got == index
        assert_inside(LATENT_SPACE, point)
        adapter.complete(index, -float(index))
    assert [adapter.generation_method(i) for i in range(4)] == ["sobol"] * 3 + ["botorch"]


def test_the_same_seed_gives_the_same_start_and_another_seed_another() -> None:
    first = [point for _, point in AxAdapter(LATENT_SPACE, seed=1, n_initial=4).suggest(4)]
    again = [point for _, point in AxAdapter(LATENT_SPACE, seed=1, n_initial=4).suggest(4)]
    other = [point for _, point in AxAdapter(LATENT_SPACE, seed=2, n_initial=4).suggest(4)]
    assert len(first) == 4
    assert first == again
    assert all(a != b for a, b in zip(first, other, strict=True))


def test_botorch_improves_on_the_sobol_start() -> None:
    adapter = AxAdapter(FILTER_SPACE, seed=0, n_initial=5)
    history = run_trials(adapter, 10)
    sobol_best = max(trial.objective for trial in history[:5] if trial.objective is not None)
    best = adapter.best()
    assert best is not None
    point, objective = best
    assert [adapter.generation_method(i) for i in range(10)] == ["sobol"] * 5 + ["botorch"] * 5
    assert objective > sobol_best
    assert objective == max(trial.objective for trial in history if trial.objective is not None)
    assert objective == bowl(point)


def test_rebuild_continues_the_study() -> None:
    adapter = AxAdapter(FILTER_SPACE, seed=5, n_initial=4)
    history = run_trials(adapter, 6, fail=frozenset({2}))
    rebuilt = AxAdapter.rebuild(FILTER_SPACE, seed=5, n_initial=4, history=history[::-1])
    assert rebuilt.n_trials == 6
    assert rebuilt.state(2) == "failed"
    assert rebuilt.best() == adapter.best()
    [(index, point)] = rebuilt.suggest()
    assert index == 6
    assert_inside(FILTER_SPACE, point)
    assert point not in [trial.parameters for trial in history]
    assert rebuilt.generation_method(6) == "botorch"


def test_a_rebuild_within_the_sobol_phase_continues_the_same_sequence() -> None:
    fresh = AxAdapter(FILTER_SPACE, seed=9, n_initial=6)
    history = run_trials(fresh, 3, fail=frozenset({1}))
    rebuilt = AxAdapter.rebuild(FILTER_SPACE, seed=9, n_initial=6, history=history)
    expected = fresh.suggest(2)
    got = rebuilt.suggest(2)
    assert [index for index, _ in got] == [3, 4]
    assert got == expected
    assert all(point not in [trial.parameters for trial in history] for _, point in got)


def test_running_trials_come_back_abandoned_and_can_be_run_again() -> None:
    adapter = AxAdapter(FILTER_SPACE, seed=4, n_initial=3)
    [(_, first), (_, second)] = adapter.suggest(2)
    adapter.complete(0, bowl(first))
    history = [
        HistoryTrial(0, first, "completed", bowl(first)),
        HistoryTrial(1, second, "running"),
        HistoryTrial(2, first, "early_stopped", -10.0),
    ]
    rebuilt = AxAdapter.rebuild(FILTER_SPACE, seed=4, n_initial=3, history=history)
    assert [rebuilt.state(i) for i in range(3)] == ["completed", "abandoned", "early_stopped"]
    with pytest.raises(ConflictError):
        rebuilt.complete(1, 0.5)
    rerun = rebuilt.attach(second)
    assert rerun == 3
    assert rebuilt.generation_method(rerun) == "attached"
    rebuilt.complete(rerun, bowl(second))
    assert rebuilt.best() == max((first, bowl(first)), (second, bowl(second)), key=lambda pair: pair[1])


def test_suggest_returns_fewer_while_the_initial_trials_await_results() -> None:
    adapter = AxAdapter(FILTER_SPACE, seed=2, n_initial=2)
    started = adapter.suggest(3)
    assert [index for index, _ in started] == [0, 1]
    assert adapter.suggest() == []
    adapter.complete(0, bowl(started[0][1]))
    [(index, point)] = adapter.suggest()
    assert index == 2
    assert_inside(FILTER_SPACE, point)


def test_progression_and_early_stopping() -> None:
    adapter = AxAdapter(FILTER_SPACE, seed=3, n_initial=3)
    [(done, point), (stopped, _), (failed, _)] = adapter.suggest(3)
    adapter.complete(done, -1.0, progression=[-3.0, -2.0, -1.5])
    adapter.early_stopped(stopped, [-4.0, -3.5])
    with pytest.raises(InvalidInputError):
        adapter.early_stopped(failed, [])
    adapter.fail(failed, "diverged")
    assert [adapter.state(i) for i in range(3)] == ["completed", "early_stopped", "failed"]
    # An early-stopped trial never counts as the best, even when it is the only other candidate.
    assert adapter.best() == (point, -1.0)


def test_choices_keep_their_types() -> None:
    space = SearchSpace(
        name="typed",
        optimizer="typed",
        parameters=(
            RangeParameter("width", 1.0, 3.0),
            ChoiceParameter("depth", (2, 4, 8)),
            ChoiceParameter("bias", (False, True)),
            ChoiceParameter("rate", (0.5, 1)),
        ),
        fixed={},
        description="a space with every kind of parameter",
        to_trial=dict,
    )
    adapter = AxAdapter(space, seed=0, n_initial=4)
    for _, point in adapter.suggest(4):
        assert_inside(space, point)
        assert type(point["depth"]) is int
        assert type(point["bias"]) is bool
        assert (type(point["rate"]), point["rate"]) in {(float, 0.5), (int, 1)}


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(InvalidInputError):
        AxAdapter(FILTER_SPACE, seed=0, n_initial=0)
    with pytest.raises(InvalidInputError):
        AxAdapter(FILTER_SPACE, seed=-1)
    with pytest.raises(InvalidInputError):
        AxAdapter(FILTER_SPACE, seed=0, objective="val-accuracy")
    mixed = SearchSpace(
        name="mixed",
        optimizer="mixed",
        parameters=(ChoiceParameter("c", ("a", 1)),),
        fixed={},
        description="",
        to_trial=dict,
    )
    with pytest.raises(InvalidInputError):
        AxAdapter(mixed, seed=0)

    adapter = AxAdapter(FILTER_SPACE, seed=0)
    with pytest.raises(InvalidInputError):
        adapter.suggest(0)
    with pytest.raises(NotFoundError):
        adapter.complete(0, 1.0)
    [(index, _)] = adapter.suggest()
    with pytest.raises(InvalidInputError):
        adapter.complete(index, math.nan)
    with pytest.raises(InvalidInputError):
        adapter.attach({"alpha": 1.0, "gamma": 0.1})
    adapter.abandon(index)
    with pytest.raises(ConflictError):
        adapter.abandon(index)


def test_bad_history_is_refused() -> None:
    point = {"alpha": 1e-3, "gamma": 1e-1}
    with pytest.raises(InvalidInputError):
        HistoryTrial(0, point, "completed")
    with pytest.raises(InvalidInputError):
        HistoryTrial(0, point, "done")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="without gaps"):
        AxAdapter.rebuild(FILTER_SPACE, seed=0, history=[HistoryTrial(1, point, "failed")])
    outside = HistoryTrial(0, {"alpha": 2.0, "gamma": 0.1}, "failed")
    with pytest.raises(InvalidInputError, match="stored trial 0"):
        AxAdapter.rebuild(FILTER_SPACE, seed=0, history=[outside])
