"""The lean suggestion path: the unit cube, the Sobol start, the GP's suggestions and the adapter around them."""

from __future__ import annotations

import math

import pytest

from bnn_errors import ConflictError, GiveUpError, InvalidInputError, NotFoundError
from search_spaces import FILTER_SPACE, LATENT_SPACE, ChoiceParameter, RangeParameter, SearchSpace
from tuner.bo.adapters import new_adapter
from tuner.bo.history import HistoryTrial
from tuner.bo.lean import LeanSettings, UnitCube, suggest_lean
from tuner.bo.lean_adapter import LeanAdapter


def bowl(point: dict[str, object]) -> float:
    """A smooth objective on the filter space with its maximum 0.9 at alpha = 1e-3, gamma = 1e-2."""
    alpha, gamma = float(point["alpha"]), float(point["gamma"])  # type: ignore[arg-type]
    return 0.9 - 0.05 * (math.log10(alpha) + 3) ** 2 - 0.02 * (math.log10(gamma) + 2) ** 2


def start(seed: int) -> dict[str, object]:
    """The first Sobol point of a filter study with ``seed``."""
    point = suggest_lean(FILTER_SPACE, [], seed=seed, n_initial=1)
    assert point is not None
    return point


def completed(points: list[dict[str, object]]) -> list[HistoryTrial]:
    return [HistoryTrial(k, p, "completed", bowl(p)) for k, p in enumerate(points)]


def run(adapter: LeanAdapter, n: int) -> list[float]:
    values = []
    for _ in range(n):
        [(index, point)] = adapter.suggest(1)
        values.append(bowl(point))
        adapter.complete(index, values[-1])
    return values


def test_the_unit_cube_maps_log_ranges_and_choices_both_ways() -> None:
    cube = UnitCube(LATENT_SPACE)
    assert cube.dimension == len(LATENT_SPACE.parameters)
    low = {p.name: p.lower if isinstance(p, RangeParameter) else p.choices[0] for p in LATENT_SPACE.parameters}
    high = {p.name: p.upper if isinstance(p, RangeParameter) else p.choices[-1] for p in LATENT_SPACE.parameters}
    assert cube.encode(low) == [0.0] * cube.dimension
    assert cube.encode(high) == pytest.approx([1.0] * cube.dimension)
    middle = cube.decode([0.5] * cube.dimension)
    lr = LATENT_SPACE.parameter("lr")
    assert isinstance(lr, RangeParameter)
    assert middle["lr"] == pytest.approx(math.sqrt(lr.lower * lr.upper))  # the geometric mean on a log scale
    LATENT_SPACE.validate(cube.decode([1.0 + 1e-12] * cube.dimension))  # rounding past a bound is clamped
    assert len(cube.choice_combinations()) == 4  # scaling x clipping


def test_a_linear_range_and_a_three_way_choice_are_encoded_by_position() -> None:
    space = SearchSpace(
        name="toy",
        optimizer="filter",
        parameters=(RangeParameter("x", -1.0, 3.0), ChoiceParameter("c", ("a", "b", "c"))),
        fixed={},
        description="",
        to_trial=dict,
    )
    cube = UnitCube(space)
    assert cube.encode({"x": 0.0, "c": "b"}) == [0.25, 0.5]
    assert cube.decode([0.25, 0.6]) == {"x": 0.0, "c": "b"}
    assert cube.choice_combinations() == [{1: 0.0}, {1: 0.5}, {1: 1.0}]


def test_the_sobol_start_is_seeded_distinct_and_continues_past_failed_trials() -> None:
    first = start(3)
    history: list[HistoryTrial] = []
    points = []
    for k in range(5):
        point = suggest_lean(FILTER_SPACE, history, seed=3, n_initial=5)
        assert point is not None
        points.append(point)
        history.append(HistoryTrial(k, point, "failed" if k == 1 else "completed", bowl(point)))
    assert points[0] == first
    assert len({tuple(p.values()) for p in points}) == 5
    assert start(4) != first
    # Trial 1 failed: a sixth Sobol point is due, not the GP (4 counted of 5), and it is new.
    sixth = suggest_lean(FILTER_SPACE, history, seed=3, n_initial=5)
    assert sixth is not None and sixth not in points


def test_the_gp_waits_for_half_the_start_to_report() -> None:
    point = start(0)
    running = [HistoryTrial(k, point, "running") for k in range(3)]
    done = [HistoryTrial(3, point, "completed", 0.5)]
    assert suggest_lean(FILTER_SPACE, running + done, seed=0, n_initial=4) is None
    two_done = [*running[:2], HistoryTrial(2, point, "completed", 0.4), done[0]]
    assert suggest_lean(FILTER_SPACE, two_done, seed=0, n_initial=4) is not None


def test_a_suggestion_is_a_function_of_space_history_and_seed() -> None:
    history = completed([start(s) for s in range(8)])
    one = suggest_lean(FILTER_SPACE, history, seed=1, n_initial=5)
    assert one == suggest_lean(FILTER_SPACE, history, seed=1, n_initial=5)
    assert one != suggest_lean(FILTER_SPACE, history, seed=2, n_initial=5)
    assert one is not None
    FILTER_SPACE.validate(one)


def test_pending_points_and_known_errors_change_the_suggestion() -> None:
    history = completed([start(s) for s in range(8)])
    plain = suggest_lean(FILTER_SPACE, history, seed=0, n_initial=5)
    assert plain is not None
    with_pending = suggest_lean(FILTER_SPACE, [*history, HistoryTrial(8, plain, "running")], seed=0, n_initial=5)
    assert with_pending is not None and with_pending != plain
    noisy = [HistoryTrial(t.number, t.parameters, t.state, t.objective, sem=0.05) for t in history]
    assert suggest_lean(FILTER_SPACE, noisy, seed=0, n_initial=5) != plain


def test_bo_beats_its_own_sobol_start_on_a_smooth_objective() -> None:
    random_arm = LeanAdapter(FILTER_SPACE, seed=5, n_initial=15)  # Sobol for all 15 trials
    bo_arm = LeanAdapter(FILTER_SPACE, seed=5, n_initial=5)
    assert max(run(bo_arm, 15)) > max(run(random_arm, 15)) + 0.005
    assert max(run(bo_arm, 1)) <= 0.9


def test_the_latent_space_with_its_choices_is_searched() -> None:
    adapter = LeanAdapter(LATENT_SPACE, seed=0, n_initial=3)
    for k in range(5):
        [(index, point)] = adapter.suggest(1)
        LATENT_SPACE.validate(point)
        adapter.complete(index, 0.5 + 0.01 * k + (0.05 if point["scaling"] == "on" else 0.0))
    assert adapter.n_trials == 5


def test_the_adapter_keeps_the_lifecycle() -> None:
    adapter = LeanAdapter(FILTER_SPACE, seed=0, n_initial=2)
    [(first, point)] = adapter.suggest(1)
    adapter.complete(first, 0.7, sem=0.01)
    with pytest.raises(ConflictError):
        adapter.complete(first, 0.8)
    with pytest.raises(NotFoundError):
        adapter.fail(7, "no such trial")
    with pytest.raises(InvalidInputError, match="sem must be >= 0"):
        adapter.complete(first, 0.8, sem=-1.0)
    second = adapter.attach(point)
    adapter.early_stopped(second, [0.6, 0.75])
    [(third, _)] = adapter.suggest(1)
    adapter.abandon(third)
    assert [adapter.state(i) for i in (first, second, third)] == ["completed", "early_stopped", "abandoned"]
    assert adapter.best() == (point, 0.75)
    rebuilt = LeanAdapter.rebuild(FILTER_SPACE, seed=0, n_initial=2, history=adapter.history())
    assert rebuilt.history() == adapter.history()
    assert rebuilt.suggest(1) == adapter.suggest(1)


def test_a_rebuilt_adapter_abandons_the_trials_that_were_running() -> None:
    point = start(0)
    rebuilt = LeanAdapter.rebuild(FILTER_SPACE, seed=0, history=[HistoryTrial(0, point, "running")])
    assert rebuilt.state(0) == "abandoned"
    with pytest.raises(InvalidInputError, match="without gaps"):
        LeanAdapter.rebuild(FILTER_SPACE, seed=0, history=[HistoryTrial(1, point, "failed")])


def test_bad_arguments_are_refused_by_name() -> None:
    with pytest.raises(InvalidInputError, match="n_initial"):
        suggest_lean(FILTER_SPACE, [], seed=0, n_initial=0)
    with pytest.raises(InvalidInputError, match="seed"):
        LeanAdapter(FILTER_SPACE, seed=-1)
    with pytest.raises(InvalidInputError) as error:
        LeanSettings(restarts=0)
    assert error.value.field == "restarts"
    with pytest.raises(InvalidInputError, match="suggester must be one of"):
        new_adapter("optuna", FILTER_SPACE, seed=0, n_initial=5)  # type: ignore[arg-type]


def test_a_model_that_cannot_be_fitted_gives_up_with_the_reason() -> None:
    point = start(0)
    history = [HistoryTrial(k, point, "completed", 0.5) for k in range(3)]
    broken = [HistoryTrial(3, {"alpha": math.nan, "gamma": 1e-2}, "completed", 0.5)]
    # NaN gets past no check of ours but the space's; here it is slipped in directly to see BoTorch fail.
    with pytest.raises(GiveUpError, match="BoTorch could not suggest trial 4"):
        suggest_lean(FILTER_SPACE, history + broken, seed=0, n_initial=1)
