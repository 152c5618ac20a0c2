"""Tests of the comparison statistics: best-so-far curves, bootstrap intervals, trials-to-target."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bnn_errors import InvalidInputError, NotFoundError
from tuner.analysis.statistics import (
    best_so_far,
    bootstrap_mean_ci,
    compare_spaces,
    tolerance_sensitivity,
    trials_to_target,
)

objective = st.one_of(st.none(), st.floats(allow_infinity=False, min_value=-1e6, max_value=1e6))
objective_or_nan = st.one_of(objective, st.just(math.nan))


def _synthetic_space(rng: np.random.Generator, reach_trials: np.ndarray, n_trials: int) -> list[list[float | None]]:
    """Replicates with objectives in [0.5, 0.8] but about 0.9 at their reach trial, and two failed trials."""
    replicates: list[list[float | None]] = []
    for reach in reach_trials:
        values: list[float | None] = list(rng.uniform(0.5, 0.8, size=n_trials))
        values[reach - 1] = 0.9 + float(rng.uniform(0.0, 0.005))
        for failed in rng.choice(n_trials, size=2, replace=False):
            if failed != reach - 1:
                values[failed] = None
        replicates.append(values)
    return replicates


# best_so_far


def test_best_so_far_carries_the_best_over_failures() -> None:
    curve = best_so_far([None, 0.5, math.nan, 0.4, 0.7, None])
    assert math.isnan(curve[0])
    assert curve[1:] == [0.5, 0.5, 0.5, 0.7, 0.7]
    assert best_so_far([]) == []


@given(st.lists(objective_or_nan, max_size=30))
def test_best_so_far_is_the_running_maximum_of_successes(objectives: list[float | None]) -> None:
    curve = best_so_far(objectives)
    assert len(curve) == len(objectives)
    successes: list[float] = []
    for value, best in zip(objectives, curve, strict=True):
        if value is not None and not math.isnan(value):
            successes.append(value)
        if successes:
            assert best == max(successes)
        else:
            assert math.isnan(best)
    defined = [b for b in curve if not math.isnan(b)]
    assert all(a <= b for a, b in itertools.pairwise(defined))


def test_best_so_far_rejects_infinite_objectives() -> None:
    with pytest.raises(InvalidInputError):
        best_so_far([0.5, math.inf])


# bootstrap_mean_ci


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(min_value=-1e3, max_value=1e3), min_size=1, max_size=40), st.integers(0, 2**16))
def test_bootstrap_interval_contains_the_mean(values: list[float], seed: int) -> None:
    mean, lo, hi = bootstrap_mean_ci(values, n_boot=200, seed=seed)
    assert mean.shape == ()
    assert float(mean) == pytest.approx(float(np.mean(values)), abs=1e-9)
    assert float(lo) <= float(mean) <= float(hi)


def test_bootstrap_is_seeded() -> None:
    values = np.random.default_rng(1).normal(size=(15, 4))
    first = bootstrap_mean_ci(values, seed=7)
    again = bootstrap_mean_ci(values, seed=7)
    other = bootstrap_mean_ci(values, seed=8)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[1], other[1])


def test_bootstrap_interval_shrinks_as_replicates_grow() -> None:
    rng = np.random.default_rng(2)
    widths = []
    for n_rep in (5, 50, 500):
        _, lo, hi = bootstrap_mean_ci(rng.normal(size=n_rep), seed=0)
        widths.append(float(hi - lo))
    assert widths[0] > widths[1] > widths[2] > 0
    # The width of a mean's interval falls like 1/sqrt(R): about 2 * 1.96 / sqrt(500) here.
    assert widths[2] == pytest.approx(2 * 1.96 / math.sqrt(500), rel=0.25)


def test_bootstrap_interval_widens_with_confidence() -> None:
    values = np.random.default_rng(3).normal(size=30)
    _, lo_80, hi_80 = bootstrap_mean_ci(values, confidence=0.8)
    _, lo_99, hi_99 = bootstrap_mean_ci(values, confidence=0.99)
    assert lo_99 < lo_80 and hi_80 < hi_99


def test_bootstrap_interval_covers_the_true_mean_about_as_often_as_asked() -> None:
    rng = np.random.default_rng(4)
    covered = 0
    n_repeats = 200
    for seed in range(n_repeats):
        _, lo, hi = bootstrap_mean_ci(rng.normal(loc=3.0, size=40), n_boot=400, seed=seed)
        covered += bool(lo <= 3.0 <= hi)
    assert 0.85 <= covered / n_repeats <= 0.99


def test_bootstrap_is_nan_aware_per_column() -> None:
    values = np.array([[1.0, math.nan, math.nan], [3.0, 2.0, math.nan], [5.0, 4.0, math.nan]])
    mean, lo, hi = bootstrap_mean_ci(values)
    assert mean.shape == lo.shape == hi.shape == (3,)
    np.testing.assert_allclose(mean[:2], [3.0, 3.0])
    assert lo[1] >= 2.0 and hi[1] <= 4.0
    assert math.isnan(mean[2]) and math.isnan(lo[2]) and math.isnan(hi[2])


def test_bootstrap_of_one_replicate_is_a_point() -> None:
    mean, lo, hi = bootstrap_mean_ci([0.25])
    assert float(mean) == float(lo) == float(hi) == 0.25


@pytest.mark.parametrize(
    ("values", "kwargs"),
    [
        ([], {}),
        ([[[1.0]]], {}),
        ([1.0, math.inf], {}),
        ([1.0], {"confidence": 1.0}),
        ([1.0], {"confidence": 0.0}),
        ([1.0], {"n_boot": 0}),
        ([1.0], {"seed": -1}),
    ],
)
def test_bootstrap_rejects_bad_input(values: list[float], kwargs: dict[str, float]) -> None:
    with pytest.raises(InvalidInputError):
        bootstrap_mean_ci(values, **kwargs)  # type: ignore[arg-type]


# trials_to_target


def test_trials_to_target_on_hand_cases() -> None:
    curve = [math.nan, 0.5, 0.7, 0.7, 0.9]
    assert trials_to_target(curve, 0.7) == 3
    assert trials_to_target(curve, 0.69) == 3
    assert trials_to_target(curve, 0.5) == 2
    assert trials_to_target(curve, -10.0) == 2
    assert trials_to_target(curve, 0.9) == 5
    assert trials_to_target(curve, 0.91) is None
    assert trials_to_target([None, None], 0.0) is None
    assert trials_to_target([], 0.0) is None
    with pytest.raises(InvalidInputError):
        trials_to_target(curve, math.nan)


@given(st.lists(objective, max_size=20), st.floats(min_value=-1e6, max_value=1e6))
def test_trials_to_target_agrees_on_raw_objectives_and_best_so_far(
    objectives: list[float | None], target: float
) -> None:
    assert trials_to_target(objectives, target) == trials_to_target(best_so_far(objectives), target)


# compare_spaces


def test_filter_space_reaching_the_target_ten_trials_sooner_is_detected() -> None:
    rng = np.random.default_rng(5)
    n_rep, n_trials = 20, 25
    curves = {
        "latent": _synthetic_space(rng, rng.integers(12, 15, size=n_rep), n_trials),
        "filter": _synthetic_space(rng, rng.integers(2, 5, size=n_rep), n_trials),
    }
    summary = compare_spaces(curves, tolerance=0.01, n_boot=1000)
    latent, filter_ = summary.space("latent"), summary.space("filter")
    assert summary.target == pytest.approx(summary.best_objective - 0.01)
    assert latent.n_reached == filter_.n_reached == n_rep
    assert all(12 <= t <= 14 for t in latent.trials_to_target if t is not None)
    assert all(2 <= t <= 4 for t in filter_.trials_to_target if t is not None)
    difference = summary.difference
    assert difference is not None
    assert (difference.space_a, difference.space_b) == ("latent", "filter")
    assert 0 < difference.lo <= difference.mean <= difference.hi
    assert difference.mean == pytest.approx(10.0, abs=1.0)
    assert difference.fraction_positive == 1.0
    # The curves tell the same story: the filter space's mean best-so-far is ahead at trial 8.
    assert filter_.best_so_far_mean[7] > latent.best_so_far_hi[7]
    assert len(latent.best_so_far_mean) == n_trials and latent.best_so_far_n[-1] == n_rep


def test_identical_distributions_give_an_interval_covering_zero() -> None:
    rng = np.random.default_rng(6)
    curves = {
        "latent": _synthetic_space(rng, rng.integers(2, 20, size=20), 25),
        "filter": _synthetic_space(rng, rng.integers(2, 20, size=20), 25),
    }
    difference = compare_spaces(curves, n_boot=1000).difference
    assert difference is not None
    assert difference.lo < 0 < difference.hi
    assert 0.05 < difference.fraction_positive < 0.95


def test_never_reached_replicates_count_as_their_trials_plus_one() -> None:
    curves = {"latent": [[0.5, 0.9], [0.5, 0.6, 0.7]], "filter": [[0.9]]}
    summary = compare_spaces(curves, tolerance=0.0, n_boot=200)
    latent = summary.space("latent")
    assert summary.target == 0.9
    assert latent.trials_to_target == (2, None)
    assert latent.n_reached == 1
    assert latent.trials_to_target_mean.mean == pytest.approx((2 + 4) / 2)
    assert latent.trials_to_target_mean.n == 2
    assert summary.difference is not None
    assert summary.difference.mean == pytest.approx(3.0 - 1.0)


def test_replicates_of_different_lengths_use_the_common_prefix_for_curves() -> None:
    curves = {"latent": [[None, 0.6, 0.7, 0.95], [0.4, None]], "filter": [[None, None, 0.8]]}
    summary = compare_spaces(curves, tolerance=0.05, n_boot=200)
    latent = summary.space("latent")
    assert latent.n_trials == (4, 2)
    assert len(latent.best_so_far_mean) == 2
    assert latent.best_so_far_n == (1, 2)
    assert latent.best_so_far_mean == pytest.approx((0.4, 0.5))
    # The final best and the target use every trial, also those past the common prefix.
    assert latent.final_best.mean == pytest.approx((0.95 + 0.4) / 2)
    assert summary.best_objective == 0.95
    assert latent.trials_to_target == (4, None)
    filter_ = summary.space("filter")
    assert math.isnan(filter_.best_so_far_mean[0])
    assert filter_.best_so_far_n == (0, 0, 1)


def test_to_dict_is_json_ready_without_nan() -> None:
    curves: dict[str, list[list[float | None]]] = {
        "latent": [[None, 0.6], [None, 0.7]],
        "filter": [[0.5, None], [None, None]],
    }
    summary = compare_spaces(curves, n_boot=100)
    data = summary.to_dict()
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text) == data
    latent = data["spaces"][0]
    assert latent["name"] == "latent"
    assert latent["best_so_far_mean"][0] is None
    assert latent["trials_to_target"] == [None, 2]
    filter_ = data["spaces"][1]
    assert filter_["final_best"]["n"] == 1
    assert data["difference"]["space_a"] == "latent"


def test_compare_spaces_is_seeded() -> None:
    rng = np.random.default_rng(7)
    curves = {"latent": _synthetic_space(rng, rng.integers(2, 20, size=8), 20)}
    assert compare_spaces(curves, seed=3).to_dict() == compare_spaces(curves, seed=3).to_dict()
    assert compare_spaces(curves, seed=3).to_dict() != compare_spaces(curves, seed=4).to_dict()


def test_difference_is_that_of_the_first_two_spaces() -> None:
    one = compare_spaces({"latent": [[0.5]]}, n_boot=50)
    three = compare_spaces({"a": [[0.5]], "b": [[0.6]], "c": [[0.7]]}, tolerance=0.15, n_boot=50)
    assert one.difference is None
    # target 0.55: a never reaches it (counted as 2), b at its first trial
    assert three.difference is not None and (three.difference.space_a, three.difference.space_b) == ("a", "b")
    assert three.difference.mean == 1.0
    assert [s.name for s in three.spaces] == ["a", "b", "c"]
    with pytest.raises(NotFoundError):
        three.space("filter")


@pytest.mark.parametrize(
    ("curves", "kwargs"),
    [
        ({}, {}),
        ({"latent": []}, {}),
        ({"latent": [[0.5], []]}, {}),
        ({"latent": [[None, math.nan]], "filter": [[None]]}, {}),
        ({"latent": [[0.5, math.inf]]}, {}),
        ({"latent": [[0.5]]}, {"tolerance": -0.01}),
        ({"latent": [[0.5]]}, {"tolerance": math.nan}),
        ({"latent": [[0.5]]}, {"confidence": 2.0}),
    ],
)
def test_compare_spaces_rejects_bad_input(
    curves: dict[str, list[list[float | None]]], kwargs: dict[str, float]
) -> None:
    with pytest.raises(InvalidInputError):
        compare_spaces(curves, **kwargs)  # type: ignore[arg-type]


# tolerance_sensitivity


def test_tolerance_sensitivity_matches_compare_spaces_and_is_monotone() -> None:
    rng = np.random.default_rng(8)
    curves = {
        "latent": _synthetic_space(rng, rng.integers(8, 16, size=10), 20),
        "filter": _synthetic_space(rng, rng.integers(2, 8, size=10), 20),
    }
    tolerances = [0.0, 0.01, 0.05, 0.15, 0.5]
    rows = tolerance_sensitivity(curves, tolerances, n_boot=300)
    assert [row["tolerance"] for row in rows] == tolerances
    json.dumps(rows, allow_nan=False)
    for row in rows:
        difference = compare_spaces(curves, tolerance=row["tolerance"], n_boot=300).difference
        assert difference is not None
        assert (row["difference"], row["lo"], row["hi"]) == (difference.mean, difference.lo, difference.hi)
        assert row["fraction_positive"] == difference.fraction_positive
        assert row["difference"] == pytest.approx(row["mean_trials_a"] - row["mean_trials_b"])
    # A looser target is reached no later, so mean trials-to-target cannot grow with the tolerance.
    for tighter, looser in itertools.pairwise(rows):
        assert looser["mean_trials_a"] <= tighter["mean_trials_a"]
        assert looser["n_reached_a"] >= tighter["n_reached_a"]
    # With the exact best as target only the one replicate that found it reaches it.
    assert rows[0]["n_reached_a"] + rows[0]["n_reached_b"] == 1
    # Half a unit below the best, every trial that succeeded already reaches it.
    assert rows[-1]["n_reached_a"] == rows[-1]["n_reached_b"] == 10


def test_tolerance_sensitivity_needs_two_spaces() -> None:
    with pytest.raises(InvalidInputError):
        tolerance_sensitivity({"latent": [[0.5]]}, [0.01])
    with pytest.raises(InvalidInputError):
        tolerance_sensitivity({"latent": [[0.5]], "filter": [[0.4]]}, [-1.0])
