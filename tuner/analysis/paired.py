"""Paired statistics for comparing two search spaces whose replicate studies share their seeds.

Replicate r of every arm (search space) runs with the same seed, so the r-th study of arm A and the r-th study of
arm B are a pair (common random numbers): they share the data split, the initial weights and the sampler's first
draws. Resampling pairs instead of each arm on its own removes that shared noise from the comparison, which
:func:`tuner.analysis.statistics.compare_spaces` (unpaired) does not.

Inputs are as for ``compare_spaces``: per arm, one objective sequence per replicate, in trial order, None or NaN
for a failed trial. Arms may hold different numbers of replicates: only the indices present in both,
``0 .. min(len(curves_a), len(curves_b)) - 1``, are paired, and the rest are left out.

Targets are never derived from the compared data here (that would let the data choose the question): the caller
fixes them before the run, e.g. with :func:`calibration_targets` from a run of random configurations.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bnn_errors import InvalidInputError

__all__ = [
    "FixedTargetRow",
    "HorizontalRow",
    "PairedDifference",
    "calibration_targets",
    "fixed_target_table",
    "holm",
    "horizontal",
    "mean_interval",
    "paired_difference",
]

FloatArray = NDArray[np.float64]
Curves = Sequence[Sequence[float | None]]


@dataclass(frozen=True)
class _Record:
    """Base of the result records: ``to_dict`` gives JSON-ready builtins."""

    def to_dict(self) -> dict[str, Any]:
        """The record as builtins, None for NaN."""
        return {
            key: None if isinstance(value, float) and math.isnan(value) else value
            for key, value in dataclasses.asdict(self).items()
        }


@dataclass(frozen=True)
class PairedDifference(_Record):
    """Mean over pairs of (trials-to-target of A minus that of B): positive means B reached the target sooner.

    ``mean_trials_*`` count a replicate that never reached the target as its budget + 1 (right-censored: the
    truth is at least that), so where ``n_reached_*`` is below ``n_pairs`` those means are lower bounds.
    ``p`` is the two-sided percentile-bootstrap p-value for a mean difference of 0 (see
    :func:`paired_difference`).
    """

    target: float
    mean: float
    ci_low: float
    ci_high: float
    p: float
    n_pairs: int
    n_reached_a: int
    n_reached_b: int
    mean_trials_a: float
    mean_trials_b: float


@dataclass(frozen=True)
class FixedTargetRow(PairedDifference):
    """A :class:`PairedDifference` with its p-value Holm-adjusted across the table's targets."""

    p_holm: float


@dataclass(frozen=True)
class HorizontalRow(_Record):
    """How many more trials than ``k`` arm B needs to match arm A's best after ``k`` trials, mean over pairs.

    ``n_pairs`` counts the pairs in which A had a successful trial among its first ``k`` (the others have no
    level to match and are left out); ``n_matched`` those in which B reached that level within its budget.
    """

    k: int
    mean: float
    ci_low: float
    ci_high: float
    n_pairs: int
    n_matched: int


def paired_difference(
    curves_a: Curves,
    curves_b: Curves,
    target: float,
    *,
    n_trials: int | None = None,
    confidence: float = 0.95,
    n_boot: int = 10000,
    seed: int = 0,
) -> PairedDifference:
    """Mean paired difference of trials-to-target (A minus B), with a pair-bootstrap interval and p-value.

    A replicate's trials-to-target is the 1-based trial at which its best-so-far first reaches ``target``; one
    that never does counts as its budget + 1 (censored, as ``compare_spaces`` does). Pairs are resampled with
    replacement, one index vector for both arms, so each draw keeps every pair together.

    The p-value is ``2 * min(P(d* <= 0), P(d* >= 0))`` over the bootstrap means d*, floored at ``1 / n_boot``
    (no finite resample can support a smaller one) and capped at 1. It is the inverted percentile interval:
    p < 1 - confidence exactly when that interval excludes 0, up to the percentiles' interpolation.

    Args:
        curves_a, curves_b: the two arms' replicate objective sequences; replicate r of A pairs with r of B.
        target: the objective to reach, fixed before the run; finite.
        n_trials: the budget; when given, every paired replicate is cut to its first ``n_trials`` trials and
            censored at ``n_trials + 1``; when None, each replicate's budget is its own number of trials.
        confidence: the interval's coverage, in (0, 1).
        n_boot: bootstrap resamples, >= 1.
        seed: seed of the resampling, >= 0; the same seed and number of pairs give the same resamples.

    Raises:
        InvalidInputError: fewer than two common pairs, a replicate without trials or shorter than
            ``n_trials``, an infinite objective, or an argument out of range; ``field`` names the argument.
    """
    _check_finite("target", target)
    _check_bootstrap(confidence, n_boot, seed)
    pairs = _pairs(curves_a, curves_b, n_trials)
    trials_a = np.array([_censored_reach(a, target) for a, _ in pairs], dtype=np.float64)
    trials_b = np.array([_censored_reach(b, target) for _, b in pairs], dtype=np.float64)
    mean, low, high, p = _bootstrap_mean(trials_a - trials_b, confidence, n_boot, seed)
    return PairedDifference(
        target=float(target),
        mean=mean,
        ci_low=low,
        ci_high=high,
        p=p,
        n_pairs=len(pairs),
        n_reached_a=sum(bool(a[-1] >= target) for a, _ in pairs),
        n_reached_b=sum(bool(b[-1] >= target) for _, b in pairs),
        mean_trials_a=float(trials_a.mean()),
        mean_trials_b=float(trials_b.mean()),
    )


def mean_interval(
    values: Sequence[float], *, confidence: float = 0.95, n_boot: int = 10000, seed: int = 0
) -> tuple[float, float, float, float]:
    """Mean of paired differences with its percentile-bootstrap interval and two-sided p-value (as in
    :func:`paired_difference`), for differences of any other measure (regret, accuracy).

    Raises:
        InvalidInputError: fewer than two values, a non-finite one, or a bootstrap argument out of range.
    """
    _check_bootstrap(confidence, n_boot, seed)
    array = np.asarray(values, dtype=np.float64)
    if array.size < 2:
        raise InvalidInputError(f"a paired interval needs at least two differences, got {array.size}", field="values")
    if not np.isfinite(array).all():
        raise InvalidInputError("paired differences must be finite", field="values")
    return _bootstrap_mean(array, confidence, n_boot, seed)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the input order.

    Step-down: the i-th smallest of m p-values (i from 1) is multiplied by m - i + 1, then a running maximum in
    that order keeps the adjusted values monotone, and each is capped at 1. Rejecting where the adjusted value
    is at most alpha controls the family-wise error rate at alpha under any dependence.

    Raises:
        InvalidInputError: a p-value outside [0, 1] or not a number.
    """
    for value in p_values:
        _check_finite("p_values", value)
        if not 0.0 <= value <= 1.0:
            raise InvalidInputError(f"p_values must lie in [0, 1], got {value}", field="p_values")
    m = len(p_values)
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(sorted(range(m), key=lambda i: p_values[i])):
        running = max(running, min(1.0, (m - rank) * float(p_values[index])))
        adjusted[index] = running
    return adjusted


def fixed_target_table(
    curves_a: Curves,
    curves_b: Curves,
    targets: Sequence[float],
    *,
    n_trials: int | None = None,
    confidence: float = 0.95,
    n_boot: int = 10000,
    seed: int = 0,
) -> list[FixedTargetRow]:
    """:func:`paired_difference` at each of the given targets, with p-values Holm-adjusted across the targets.

    The targets must be fixed before the run (e.g. :func:`calibration_targets`); they are never derived from
    the compared curves here. Every row uses the same seed, hence the same resamples of the pairs, so that the
    rows differ only through the target.

    Raises:
        InvalidInputError: no target, or as :func:`paired_difference`.
    """
    if len(targets) == 0:
        raise InvalidInputError("targets must hold at least one target", field="targets")
    differences = [
        paired_difference(
            curves_a, curves_b, target, n_trials=n_trials, confidence=confidence, n_boot=n_boot, seed=seed
        )
        for target in targets
    ]
    adjusted = holm([difference.p for difference in differences])
    return [
        FixedTargetRow(**dataclasses.asdict(difference), p_holm=p_holm)
        for difference, p_holm in zip(differences, adjusted, strict=True)
    ]


def calibration_targets(
    objectives: Sequence[float | None], quantiles: Sequence[float] = (0.9, 0.95, 0.99)
) -> list[float]:
    """Targets as quantiles of the objectives of random configurations (a calibration run), one per quantile.

    ``objectives`` is the pooled objectives of the calibration run (every trial of every study, flattened);
    failed trials (None or NaN) are dropped. The quantiles are numpy's default (linear interpolation between
    order statistics). A 0.95 target is then "as good as the best 5 % of random configurations".

    Raises:
        InvalidInputError: no successful objective, an infinite objective, or a quantile outside [0, 1].
    """
    values = _objectives_array(objectives, "objectives")
    values = values[~np.isnan(values)]
    if values.size == 0:
        raise InvalidInputError("objectives holds no successful trial", field="objectives")
    for quantile in quantiles:
        _check_finite("quantiles", quantile)
        if not 0.0 <= quantile <= 1.0:
            raise InvalidInputError(f"quantiles must lie in [0, 1], got {quantile}", field="quantiles")
    return [float(np.quantile(values, quantile)) for quantile in quantiles]


def horizontal(
    curves_a: Curves,
    curves_b: Curves,
    ks: Sequence[int] = (3, 5, 10),
    *,
    n_trials: int | None = None,
    confidence: float = 0.95,
    n_boot: int = 10000,
    seed: int = 0,
) -> list[HorizontalRow]:
    """The horizontal reading of the best-so-far plot: how many more trials B needs to match A after k trials.

    For each k and each pair: the level is A's best objective among its first k trials; B's trials-to-level is
    the 1-based trial at which B's best-so-far first reaches that level (B's budget + 1 where it never does,
    censored); the pair's value is B's trials-to-level minus k. Positive: B needs that many more trials than A
    needed to get there; negative: B got there sooner. A pair in which A has no successful trial among its first
    k has no level and is left out of that k's row. The mean over pairs comes with a pair-bootstrap interval.

    No p-value is given: with two equally good arms the expected value is not 0 (B's trials to match the
    maximum of k of A's draws has a long right tail), so 0 is not a null hypothesis here.

    Args:
        ks: the trial counts k of A to read at, each >= 1 and at most every paired replicate's budget.
        n_trials, confidence, n_boot, seed: as for :func:`paired_difference`.

    Raises:
        InvalidInputError: a k out of range, a k at which no pair has a level, or as :func:`paired_difference`.
    """
    _check_bootstrap(confidence, n_boot, seed)
    pairs = _pairs(curves_a, curves_b, n_trials)
    shortest_a = min(a.size for a, _ in pairs)
    rows: list[HorizontalRow] = []
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 1 <= k <= shortest_a:
            raise InvalidInputError(f"ks must be integers in [1, {shortest_a}], got {k!r}", field="ks")
        levels = [(a[k - 1], b) for a, b in pairs if not math.isnan(a[k - 1])]
        if not levels:
            raise InvalidInputError(f"ks: no pair has a successful trial of arm A among its first {k}", field="ks")
        gaps = np.array([_censored_reach(b, level) - k for level, b in levels], dtype=np.float64)
        mean, low, high, _ = _bootstrap_mean(gaps, confidence, n_boot, seed)
        rows.append(
            HorizontalRow(
                k=int(k),
                mean=mean,
                ci_low=low,
                ci_high=high,
                n_pairs=len(levels),
                n_matched=sum(bool(b[-1] >= level) for level, b in levels),
            )
        )
    return rows


def _check_finite(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise InvalidInputError(f"{name} must be a finite number, got {value!r}", field=name)


def _check_bootstrap(confidence: float, n_boot: int, seed: int) -> None:
    _check_finite("confidence", confidence)
    if not 0.0 < confidence < 1.0:
        raise InvalidInputError(f"confidence must lie in (0, 1), got {confidence}", field="confidence")
    if isinstance(n_boot, bool) or not isinstance(n_boot, numbers.Integral) or n_boot < 1:
        raise InvalidInputError(f"n_boot must be an integer >= 1, got {n_boot!r}", field="n_boot")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise InvalidInputError(f"seed must be an integer >= 0, got {seed!r}", field="seed")


def _objectives_array(objectives: Sequence[float | None], name: str) -> FloatArray:
    values = np.array([math.nan if v is None else float(v) for v in objectives], dtype=np.float64)
    if np.isinf(values).any():
        raise InvalidInputError(f"{name} must hold finite objectives (None or NaN for a failed trial)", field=name)
    return values


def _best_so_far(objectives: Sequence[float | None], name: str) -> FloatArray:
    values = _objectives_array(objectives, name)
    # -inf stands for "no success yet" (inputs are finite) so that it never wins the running maximum.
    running = np.maximum.accumulate(np.where(np.isnan(values), -np.inf, values))
    return np.where(np.isneginf(running), np.nan, running)


def _pairs(curves_a: Curves, curves_b: Curves, n_trials: int | None) -> list[tuple[FloatArray, FloatArray]]:
    """The best-so-far curves of the common replicate indices, cut to ``n_trials`` where given."""
    n_pairs = min(len(curves_a), len(curves_b))
    if n_pairs < 2:
        # One pair has no spread to resample: its "interval" would be a point and its p-value 1 / n_boot.
        field = "curves_a" if len(curves_a) <= len(curves_b) else "curves_b"
        raise InvalidInputError(
            f"curves_a and curves_b must share at least two replicate indices, got {n_pairs}", field=field
        )
    if n_trials is not None and (
        isinstance(n_trials, bool) or not isinstance(n_trials, numbers.Integral) or n_trials < 1
    ):
        raise InvalidInputError(f"n_trials must be an integer >= 1 or None, got {n_trials!r}", field="n_trials")
    pairs = []
    for r in range(n_pairs):
        pair = []
        for name, objectives in (("curves_a", curves_a[r]), ("curves_b", curves_b[r])):
            curve = _best_so_far(objectives, name)
            if curve.size == 0 or (n_trials is not None and curve.size < n_trials):
                raise InvalidInputError(
                    f"replicate {r} of {name} has {curve.size} trials, needs at least {n_trials or 1}", field=name
                )
            pair.append(curve if n_trials is None else curve[:n_trials])
        pairs.append((pair[0], pair[1]))
    return pairs


def _censored_reach(curve: FloatArray, level: float) -> int:
    """1-based first trial whose best-so-far is >= level; the curve's length + 1 where none is."""
    hits = np.flatnonzero(curve >= level)  # NaN compares False: a failed trial reaches nothing
    return int(hits[0]) + 1 if hits.size else curve.size + 1


def _bootstrap_mean(values: FloatArray, confidence: float, n_boot: int, seed: int) -> tuple[float, float, float, float]:
    """Mean, percentile-bootstrap interval and two-sided bootstrap p-value (for mean 0) of a 1-D sample."""
    indices = np.random.default_rng(seed).integers(0, values.size, size=(n_boot, values.size))
    draws = values[indices].mean(axis=1)
    mean = float(values.mean())
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(draws, [tail, 1.0 - tail])
    p = 2.0 * min(float((draws <= 0).mean()), float((draws >= 0).mean()))
    # Percentiles can miss the sample mean by round-off; an interval excluding its own estimate only confuses.
    return mean, min(float(low), mean), max(float(high), mean), min(1.0, max(p, 1.0 / n_boot))
