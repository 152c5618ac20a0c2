"""Tests of the paired statistics (pair bootstrap, Holm, horizontal reading) and the across-run statistics."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bnn_errors import InvalidInputError
from tuner.analysis.meta import chi2_sf, heterogeneity, validation_test
from tuner.analysis.paired import (
    calibration_targets,
    fixed_target_table,
    holm,
    horizontal,
    paired_difference,
)
from tuner.analysis.statistics import compare_spaces


def _reaching(trial: int | None, n_trials: int = 6) -> list[float | None]:
    """Objectives that reach 1.0 first at ``trial`` (never where None), with a failed first trial otherwise."""
    values: list[float | None] = [0.0] * n_trials
    if trial is None or trial > 1:
        values[0] = None
    if trial is not None:
        values[trial - 1] = 1.0
    return values


# paired_difference


def test_paired_difference_matches_a_hand_computed_case() -> None:
    # Trials-to-target: A 2, 5, never (6 trials -> 7); B 1, 5, 3. Differences 1, 0, 4: mean 5/3.
    curves_a = [_reaching(2), _reaching(5), _reaching(None)]
    curves_b = [_reaching(1), _reaching(5), _reaching(3)]
    result = paired_difference(curves_a, curves_b, 1.0, n_boot=10000, seed=3)
    assert result.mean == 5 / 3
    assert (result.n_pairs, result.n_reached_a, result.n_reached_b) == (3, 2, 3)
    assert (result.mean_trials_a, result.mean_trials_b) == (14 / 3, 3.0)
    # Of the 27 equally likely resamples, (0, 0, 0) has mean 0 and (4, 4, 4) mean 4, each with probability
    # 1/27 > 2.5 %, so the 95 % percentile interval is [0, 4]; only (0, 0, 0) is <= 0: p = 2/27.
    assert (result.ci_low, result.ci_high) == (0.0, 4.0)
    precise = paired_difference(curves_a, curves_b, 1.0, n_boot=200_000, seed=3)
    assert precise.p == pytest.approx(2 / 27, abs=0.003)


def test_paired_difference_cuts_and_censors_at_the_budget() -> None:
    # With 4 trials: A 2, never (5), never (5); B 1, never (5), 3. Differences 1, 0, 2: mean 1.
    curves_a = [_reaching(2), _reaching(5), _reaching(None)]
    curves_b = [_reaching(1), _reaching(5), _reaching(3)]
    result = paired_difference(curves_a, curves_b, 1.0, n_trials=4)
    assert result.mean == 1.0
    assert (result.n_reached_a, result.n_reached_b) == (1, 2)


def test_equal_pair_differences_collapse_the_interval() -> None:
    curves_a = [_reaching(3), _reaching(5), _reaching(6)]
    curves_b = [_reaching(1), _reaching(3), _reaching(4)]
    result = paired_difference(curves_a, curves_b, 1.0, n_boot=500)
    assert (result.mean, result.ci_low, result.ci_high) == (2.0, 2.0, 2.0)
    assert result.p == 1 / 500  # no resample is <= 0: floored at 1 / n_boot
    same = paired_difference(curves_a, curves_a, 1.0)
    assert (same.mean, same.ci_low, same.ci_high, same.p) == (0.0, 0.0, 0.0, 1.0)


def test_pairing_removes_the_shared_noise_that_the_unpaired_interval_keeps() -> None:
    # Reach trials spread from 3 to 38 (the seed's luck), but B is always exactly one trial sooner than A.
    reach_a = [3, 10, 17, 24, 31, 38]
    curves_a = [_reaching(t, 40) for t in reach_a]
    curves_b = [_reaching(t - 1, 40) for t in reach_a]
    unpaired = compare_spaces({"latent": curves_a, "filter": curves_b}, tolerance=0.0, n_boot=2000).difference
    assert unpaired is not None
    assert unpaired.mean == 1.0
    assert unpaired.lo < 0.0 < unpaired.hi
    paired = paired_difference(curves_a, curves_b, 1.0, n_boot=2000)
    assert (paired.mean, paired.ci_low, paired.ci_high) == (1.0, 1.0, 1.0)
    assert paired.p < 0.05


def test_only_replicate_indices_present_in_both_arms_are_paired() -> None:
    curves_a = [_reaching(2), _reaching(4), _reaching(None)]
    curves_b = [_reaching(1), _reaching(4)]
    result = paired_difference(curves_a, curves_b, 1.0)
    assert (result.n_pairs, result.mean, result.n_reached_a) == (2, 0.5, 2)


def test_paired_difference_is_json_ready_and_reproducible() -> None:
    curves_a = [_reaching(2), _reaching(5), _reaching(None), _reaching(4)]
    curves_b = [_reaching(1), _reaching(5), _reaching(3), _reaching(6)]
    first = paired_difference(curves_a, curves_b, 1.0, seed=7)
    assert first == paired_difference(curves_a, curves_b, 1.0, seed=7)
    assert json.loads(json.dumps(first.to_dict(), allow_nan=False)) == first.to_dict()


# holm


def test_holm_matches_the_textbook_example() -> None:
    # Sorted: 0.005 * 4 = 0.02, 0.01 * 3 = 0.03, 0.03 * 2 = 0.06, 0.04 * 1 = 0.04 -> running max 0.06.
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_holm_matches_a_second_hand_computed_example_and_caps_at_one() -> None:
    # Sorted: 0.001 * 5, 0.01 * 4, 0.02 * 3, 0.04 * 2 = 0.08, 0.05 * 1 -> the last is lifted to 0.08.
    assert holm([0.05, 0.02, 0.001, 0.04, 0.01]) == pytest.approx([0.08, 0.06, 0.005, 0.08, 0.04])
    assert holm([0.6, 0.5]) == [1.0, 1.0]
    assert holm([]) == []


@given(st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=8))
def test_holm_equals_the_smallest_level_at_which_the_step_down_procedure_rejects(p_values: list[float]) -> None:
    m = len(p_values)

    def rejected(alpha: float) -> set[int]:
        """Holm's procedure as stated: reject in ascending order while p_(i) <= alpha / (m - i)."""
        out: set[int] = set()
        for rank, index in enumerate(sorted(range(m), key=lambda i: p_values[i])):
            if min(1.0, p_values[index] * (m - rank)) > alpha:
                break
            out.add(index)
        return out

    levels = sorted({min(1.0, p * k) for p in p_values for k in range(1, m + 1)} | {1.0})
    adjusted = holm(p_values)
    for index in range(m):
        assert adjusted[index] == min(alpha for alpha in levels if index in rejected(alpha))


# fixed_target_table and calibration_targets


def test_fixed_target_table_holm_adjusts_across_the_given_targets() -> None:
    curves_a: list[list[float | None]] = [[0.5, 0.6, 0.9], [0.4, 0.7, 0.8], [0.6, 0.6, 0.95], [None, 0.5, 0.7]]
    curves_b: list[list[float | None]] = [[0.7, 0.9, 0.9], [0.8, 0.8, 0.85], [0.9, 0.9, 0.9], [0.5, 0.8, 0.8]]
    targets = [0.6, 0.7, 0.8]
    rows = fixed_target_table(curves_a, curves_b, targets, n_boot=1000, seed=5)
    assert [row.target for row in rows] == targets
    assert [row.p_holm for row in rows] == holm([row.p for row in rows])
    for row, target in zip(rows, targets, strict=True):
        single = paired_difference(curves_a, curves_b, target, n_boot=1000, seed=5)
        assert (row.mean, row.ci_low, row.ci_high, row.p) == (single.mean, single.ci_low, single.ci_high, single.p)
    assert rows[2].mean == (1 + 2 + 2 + 2) / 4  # target 0.8: A 3, 3, 3, never (4); B 2, 1, 1, 2
    assert json.dumps([row.to_dict() for row in rows], allow_nan=False)


def test_calibration_targets_are_quantiles_of_the_successful_objectives() -> None:
    objectives: list[float | None] = [None, *[i / 10 for i in range(10, 0, -1)], math.nan]
    # Ten values 0.1 .. 1.0; the 0.9 quantile lies at position 0.9 * 9 = 8.1: 0.9 + 0.1 * 0.1.
    assert calibration_targets(objectives, (0.0, 0.5, 0.9, 1.0)) == pytest.approx([0.1, 0.55, 0.91, 1.0])
    assert len(calibration_targets(objectives)) == 3


# horizontal


def test_horizontal_matches_a_hand_made_case() -> None:
    curves_a: list[list[float | None]] = [[0.5, 0.7, 0.6, 0.9], [None, 0.8, 0.8, 0.8]]
    curves_b: list[list[float | None]] = [[0.6, 0.65, 0.7, 0.8], [0.1, 0.1, 0.1, 0.85]]
    by_k = {row.k: row for row in horizontal(curves_a, curves_b, (1, 2, 4), n_boot=1000)}
    # k = 1: only pair 0 has a level (0.5); B reaches it at trial 1: 1 - 1 = 0.
    assert (by_k[1].mean, by_k[1].n_pairs, by_k[1].n_matched) == (0.0, 1, 1)
    # k = 2: levels 0.7 and 0.8; B reaches them at trials 3 and 4: gaps 1 and 2.
    assert (by_k[2].mean, by_k[2].n_pairs, by_k[2].n_matched) == (1.5, 2, 2)
    assert (by_k[2].ci_low, by_k[2].ci_high) == (1.0, 2.0)
    # k = 4: levels 0.9 (B never: 5 - 4 = 1) and 0.8 (B at 4: 0).
    assert (by_k[4].mean, by_k[4].n_matched) == (0.5, 1)
    # A budget of 3 trials censors pair 1's B at 4: k = 2 gives gaps 1 and 2 still, k = 3 gives 0 and 1.
    cut = horizontal(curves_a, curves_b, (3,), n_trials=3, n_boot=100)
    assert (cut[0].mean, cut[0].n_matched) == (0.5, 1)


# heterogeneity and the chi-square tail


def test_identical_estimates_show_no_heterogeneity() -> None:
    result = heterogeneity([(2.0, 0.5), (2.0, 1.0), (2.0, 0.25)])
    assert (result.q, result.p, result.i_squared, result.df) == (0.0, 1.0, 0.0, 2)
    assert result.pooled_mean == pytest.approx(2.0)


def test_heterogeneity_matches_hand_computed_cases() -> None:
    # Equal weights: pooled 2, Q = 1 + 1 = 2 on 1 df, P(chi2_1 >= 2) = erfc(1), I^2 = (2 - 1) / 2.
    equal = heterogeneity([(1.0, 1.0), (3.0, 1.0)])
    assert (equal.pooled_mean, equal.q, equal.df) == (2.0, 2.0, 1)
    assert equal.p == pytest.approx(math.erfc(1.0), rel=1e-12)
    assert equal.i_squared == 0.5
    assert equal.pooled_se == pytest.approx(1 / math.sqrt(2))
    # Weights 1 and 4: pooled 12 / 5 = 2.4, Q = 2.4^2 + 4 * 0.6^2 = 7.2, I^2 = 6.2 / 7.2, SE = 1 / sqrt(5).
    unequal = heterogeneity([(0.0, 1.0), (3.0, 0.5)])
    assert unequal.pooled_mean == pytest.approx(2.4)
    assert unequal.q == pytest.approx(7.2)
    assert unequal.p == pytest.approx(math.erfc(math.sqrt(3.6)), rel=1e-10)
    assert unequal.i_squared == pytest.approx(6.2 / 7.2)
    assert unequal.pooled_se == pytest.approx(1 / math.sqrt(5))
    assert json.dumps(unequal.to_dict(), allow_nan=False)


@pytest.mark.parametrize(
    ("x", "df", "expected"),
    [
        (3.841458820694124, 1, 0.05),  # the 95 % quantiles of chi-square tables
        (5.991464547107979, 2, 0.05),
        (18.307038053275146, 10, 0.05),
        (6.6348966010212145, 1, 0.01),
        (0.0, 3, 1.0),
    ],
)
def test_chi2_sf_matches_table_values(x: float, df: int, expected: float) -> None:
    assert chi2_sf(x, df) == pytest.approx(expected, rel=1e-10)


@given(st.floats(min_value=0.0, max_value=200.0))
def test_chi2_sf_matches_closed_forms_for_one_and_two_degrees_of_freedom(x: float) -> None:
    assert chi2_sf(x, 1) == pytest.approx(math.erfc(math.sqrt(x / 2)), rel=1e-10, abs=1e-300)
    assert chi2_sf(x, 2) == pytest.approx(math.exp(-x / 2), rel=1e-10, abs=1e-300)


@settings(deadline=None)  # the first example imports scipy
@given(st.floats(min_value=0.0, max_value=400.0), st.integers(min_value=1, max_value=300))
def test_chi2_sf_matches_scipy(x: float, df: int) -> None:
    stats: Any = pytest.importorskip("scipy.stats")
    assert chi2_sf(x, df) == pytest.approx(float(stats.chi2.sf(x, df)), rel=1e-9, abs=1e-300)


# validation_test


def test_validation_test_matches_a_hand_computed_case() -> None:
    # Deviations (-1, 0, 1) and (-1, 1, 0): r = 1 / sqrt(2 * 2) = 0.5; optimism (0, -1, 1), mean 0.
    result = validation_test([(1.0, 1.0), (2.0, 3.0), (3.0, 2.0)], n_boot=1000)
    assert (result.n, result.optimism_mean) == (3, 0.0)
    assert result.pearson_r == pytest.approx(0.5)
    assert result.optimism_ci_low < 0.0 < result.optimism_ci_high
    constant = validation_test([(0.8, 0.7), (0.8, 0.75)])
    assert constant.to_dict()["pearson_r"] is None
    assert constant.optimism_mean == pytest.approx(0.075)


# bad input


_TWO = [_reaching(2), _reaching(3)]


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: paired_difference(_TWO, [], 1.0), "curves_b"),
        (lambda: paired_difference([_reaching(2)], _TWO, 1.0), "curves_a"),
        (lambda: paired_difference(_TWO, _TWO, math.nan), "target"),
        (lambda: paired_difference(_TWO, _TWO, 1.0, n_boot=0), "n_boot"),
        (lambda: paired_difference(_TWO, _TWO, 1.0, confidence=1.0), "confidence"),
        (lambda: paired_difference(_TWO, [_reaching(2), [math.inf]], 1.0), "curves_b"),
        (lambda: paired_difference(_TWO, _TWO, 1.0, n_trials=7), "curves_a"),
        (lambda: fixed_target_table(_TWO, _TWO, []), "targets"),
        (lambda: horizontal(_TWO, _TWO, (0,)), "ks"),
        (lambda: horizontal(_TWO, _TWO, (7,)), "ks"),
        (lambda: horizontal([[None, 1.0], [None, 1.0]], _TWO, (1,)), "ks"),
        (lambda: holm([0.5, 1.5]), "p_values"),
        (lambda: calibration_targets([None, math.nan]), "objectives"),
        (lambda: calibration_targets([0.5], (1.5,)), "quantiles"),
        (lambda: heterogeneity([(1.0, 0.5)]), "estimates"),
        (lambda: heterogeneity([(1.0, 0.5), (2.0, 0.0)]), "estimates"),
        (lambda: chi2_sf(-1.0, 1), "x"),
        (lambda: validation_test([(0.8, 0.7)]), "chosen"),
    ],
)
def test_bad_input_raises_naming_the_argument(call: Callable[[], object], field: str) -> None:
    with pytest.raises(InvalidInputError, match=field) as caught:
        call()
    assert caught.value.field == field
