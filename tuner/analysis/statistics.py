"""Best-so-far curves, bootstrap intervals and trials-to-target statistics for comparing search spaces.

The paper's Figure 8 runs R replicate BO studies per search space (latent: 6 hyperparameters; filter: alpha
and gamma) and plots the best validation accuracy found so far against the number of trials; its claim is that
the filter space reaches a good network about 10 trials sooner. This module turns the objective sequences of
such studies into that figure's numbers, with percentile-bootstrap intervals over the replicates.

Everything here is plain numpy on plain sequences: the caller reads the objectives out of storage, in trial
order, one sequence per study, with ``None`` (or NaN) for a trial that failed.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bnn_errors import InvalidInputError, NotFoundError

__all__ = [
    "ComparisonSummary",
    "Estimate",
    "SpaceDifference",
    "SpaceSummary",
    "best_so_far",
    "bootstrap_mean_ci",
    "compare_spaces",
    "tolerance_sensitivity",
    "trials_to_target",
]

FloatArray = NDArray[np.float64]

# Random streams of compare_spaces: the difference draws get their own stream, so that the same seed gives the
# same difference interval whatever the curves' lengths, and tolerance_sensitivity reproduces compare_spaces.
_DIFFERENCE_STREAM = 0


@dataclass(frozen=True)
class Estimate:
    """A mean over replicates with its percentile-bootstrap interval; ``n``: how many values it is over."""

    mean: float
    lo: float
    hi: float
    n: int


@dataclass(frozen=True)
class SpaceSummary:
    """The statistics of one search space's replicate studies.

    ``best_so_far_*`` describe the mean best-so-far curve over the trial indices 1..L, where L is the shortest
    replicate's number of trials (the common prefix: no replicate is padded, because a study still running may
    yet improve); ``best_so_far_n[i]`` counts the replicates with a successful trial among their first i + 1,
    which are the ones the mean at that index is over (NaN where there is none).

    ``final_best`` is the mean over replicates of the best objective each one found in all of its trials.

    ``trials_to_target`` holds each replicate's 1-based trial at which it first reached the comparison's
    target, None where it never did. ``trials_to_target_mean`` counts a replicate that never reached it as its
    own number of trials + 1: the value is right-censored (the truth is at least that), so where
    ``n_reached`` is below ``n_replicates`` the mean and its interval are lower bounds.
    """

    name: str
    n_replicates: int
    n_trials: tuple[int, ...]
    best_so_far_mean: tuple[float, ...]
    best_so_far_lo: tuple[float, ...]
    best_so_far_hi: tuple[float, ...]
    best_so_far_n: tuple[int, ...]
    final_best: Estimate
    trials_to_target: tuple[int | None, ...]
    trials_to_target_mean: Estimate
    n_reached: int


@dataclass(frozen=True)
class SpaceDifference:
    """Mean trials-to-target of ``space_a`` minus that of ``space_b``, with a bootstrap interval.

    ``fraction_positive`` is the share of bootstrap draws in which the difference is above 0, i.e. in which
    ``space_b`` needed fewer trials; it reads like a probability but is a resampling frequency, not a
    posterior.
    """

    space_a: str
    space_b: str
    mean: float
    lo: float
    hi: float
    fraction_positive: float


@dataclass(frozen=True)
class ComparisonSummary:
    """The result of :func:`compare_spaces`; ``spaces`` keeps the order of the input mapping."""

    best_objective: float
    tolerance: float
    target: float
    confidence: float
    n_boot: int
    spaces: tuple[SpaceSummary, ...]
    difference: SpaceDifference | None

    def space(self, name: str) -> SpaceSummary:
        """The summary of the search space called ``name``.

        Raises:
            NotFoundError: no space of that name is in the comparison.
        """
        for summary in self.spaces:
            if summary.name == name:
                return summary
        raise NotFoundError(f"no search space {name!r} in this comparison")

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready builtins: lists for tuples, None for NaN."""
        ready = _json_ready(dataclasses.asdict(self))
        assert isinstance(ready, dict)
        return ready


def best_so_far(objectives: Sequence[float | None]) -> list[float]:
    """Running maximum of the objectives in trial order, skipping failed trials.

    A failed trial (None or NaN) does not count: the previous best is carried over it, and every entry before
    the first successful trial is NaN. For example ``[None, 0.5, nan, 0.4, 0.7]`` gives
    ``[nan, 0.5, 0.5, 0.5, 0.7]``.

    Raises:
        InvalidInputError: an objective is infinite.
    """
    return [float(v) for v in _best_so_far(_objectives_array(objectives))]


def bootstrap_mean_ci(
    values: ArrayLike, *, confidence: float = 0.95, n_boot: int = 2000, seed: int = 0
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Mean over replicates (axis 0) with a percentile-bootstrap interval.

    Args:
        values: shape (R,) or (R, T): R replicates, each a value or a row of T values (e.g. a best-so-far
            curve). NaN means "no value" and is left out: the mean of a column is over its non-NaN entries, a
            bootstrap draw that picks no non-NaN entry of a column is left out of that column's interval, and
            a column with no value at all gives NaN for mean, lo and hi.
        confidence: the interval's coverage, in (0, 1).
        n_boot: number of resamples of the R replicates (with replacement).
        seed: seed of the resampling; the same seed gives the same numbers.

    Returns:
        ``(mean, lo, hi)``, arrays of shape () for 1-D input (use ``float()``) or (T,) for 2-D input. The
        interval always contains the mean: the percentiles are widened to it where they miss it, which in
        practice moves them only by round-off.

    Raises:
        InvalidInputError: values is empty, not 1-D or 2-D, or infinite somewhere; confidence, n_boot or seed
            is out of range.
    """
    _check_bootstrap(confidence, n_boot, seed)
    data = np.asarray(values, dtype=np.float64)
    if data.ndim not in (1, 2) or data.shape[0] == 0:
        raise InvalidInputError(f"values must have shape (R,) or (R, T) with R >= 1, got shape {data.shape}")
    if np.isinf(data).any():
        raise InvalidInputError("values must be finite or NaN")
    matrix = data if data.ndim == 2 else data[:, None]
    mean, lo, hi = _mean_ci(matrix, confidence, n_boot, np.random.default_rng(seed))
    shape = data.shape[1:]
    return mean.reshape(shape), lo.reshape(shape), hi.reshape(shape)


def trials_to_target(curve: Sequence[float | None], target: float) -> int | None:
    """The 1-based index of the first trial whose best-so-far is >= target; None if no trial reaches it.

    ``curve`` may be a best-so-far curve or the raw objectives: the first trial whose running maximum reaches
    the target is the first trial that reaches it. NaN and None entries never reach it.

    Raises:
        InvalidInputError: target is not a finite number, or the curve holds an infinite value.
    """
    _check_finite("target", target)
    return _first_reach(_objectives_array(curve), target)


def compare_spaces(
    curves: Mapping[str, Sequence[Sequence[float | None]]],
    *,
    tolerance: float = 0.01,
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> ComparisonSummary:
    """Compare search spaces by best-so-far curves and by how many trials they need to reach a target.

    The target is the best objective seen anywhere in the comparison (every trial of every replicate of every
    space) minus ``tolerance``. That is the paper's "trials to reach the best network", made robust:
    ``tolerance`` is absolute, in accuracy units (0.01 is one point), because the validation noise of a
    300-recording split is about +-1.7 points, so requiring the exact best would credit whichever study
    happened to draw the luckiest evaluation. A replicate that never reaches the target counts as its
    number of trials + 1 (right-censored, see :class:`SpaceSummary`).

    Args:
        curves: search-space name -> one objective sequence per replicate study, in trial order, None or NaN
            for a failed trial. Replicates may differ in length (a study still running).
        tolerance: how far below the best objective the target lies, >= 0.
        confidence: coverage of every interval, in (0, 1).
        n_boot: bootstrap resamples per interval.
        seed: seed of all resampling; the same inputs and seed give the same summary.

    Returns:
        A summary per space and, for two or more spaces, the difference of mean trials-to-target of the first two
        (first minus second, in the mapping's order: a comparison's first two arms, the paper's pair in Figure 8's
        latent, filter, ... order) with its bootstrap interval, replicates being resampled independently per
        space (the paired reading is :mod:`tuner.analysis.paired`).

    Raises:
        InvalidInputError: no space, a space without replicates, a replicate without trials, an infinite
            objective, no successful trial anywhere, or an argument out of range.
    """
    _check_bootstrap(confidence, n_boot, seed)
    _check_tolerance(tolerance)
    prepared = _prepare(curves)
    best = _best_objective(prepared)
    target = best - tolerance
    spaces = tuple(
        _summarize_space(name, rows, target, confidence, n_boot, _stream(seed, index + 1))
        for index, (name, rows) in enumerate(prepared.items())
    )
    difference = None
    if len(prepared) >= 2:
        difference = _difference(prepared, target, confidence, n_boot, seed)
    return ComparisonSummary(
        best_objective=best,
        tolerance=float(tolerance),
        target=target,
        confidence=float(confidence),
        n_boot=int(n_boot),
        spaces=spaces,
        difference=difference,
    )


def tolerance_sensitivity(
    curves: Mapping[str, Sequence[Sequence[float | None]]],
    tolerances: Sequence[float],
    *,
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """The trials-to-target difference of the first two search spaces for each tolerance (the target set by the best
    objective of every space given), as flat JSON-ready rows.

    Each row equals what :func:`compare_spaces` reports with that tolerance and the same seed, so that the
    rows differ only through the tolerance (the same resamples are used for every row). NaN is given as None.

    Raises:
        InvalidInputError: ``curves`` holds fewer than two spaces, a tolerance is negative or not finite, or as
            :func:`compare_spaces`.
    """
    _check_bootstrap(confidence, n_boot, seed)
    for tolerance in tolerances:
        _check_tolerance(tolerance)
    prepared = _prepare(curves)
    if len(prepared) < 2:
        raise InvalidInputError(f"the sensitivity needs two search spaces, got {len(prepared)}")
    best = _best_objective(prepared)
    (name_a, rows_a), (name_b, rows_b) = list(prepared.items())[:2]
    table: list[dict[str, Any]] = []
    for tolerance in tolerances:
        target = best - tolerance
        difference = _difference(prepared, target, confidence, n_boot, seed)
        reached_a, censored_a = _censored_trials(rows_a, target)
        reached_b, censored_b = _censored_trials(rows_b, target)
        row = {
            "tolerance": float(tolerance),
            "target": target,
            "space_a": name_a,
            "space_b": name_b,
            "mean_trials_a": float(censored_a.mean()),
            "mean_trials_b": float(censored_b.mean()),
            "n_reached_a": sum(t is not None for t in reached_a),
            "n_reached_b": sum(t is not None for t in reached_b),
            "difference": difference.mean,
            "lo": difference.lo,
            "hi": difference.hi,
            "fraction_positive": difference.fraction_positive,
        }
        ready = _json_ready(row)
        assert isinstance(ready, dict)
        table.append(ready)
    return table


def _check_finite(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise InvalidInputError(f"{name} must be a finite number, got {value!r}")


def _check_tolerance(tolerance: float) -> None:
    _check_finite("tolerance", tolerance)
    if tolerance < 0:
        raise InvalidInputError(f"tolerance must be >= 0, got {tolerance}")


def _check_bootstrap(confidence: float, n_boot: int, seed: int) -> None:
    _check_finite("confidence", confidence)
    if not 0.0 < confidence < 1.0:
        raise InvalidInputError(f"confidence must lie in (0, 1), got {confidence}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, numbers.Integral) or n_boot < 1:
        raise InvalidInputError(f"n_boot must be an integer >= 1, got {n_boot!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise InvalidInputError(f"seed must be an integer >= 0, got {seed!r}")


def _objectives_array(objectives: Sequence[float | None]) -> FloatArray:
    values = np.array([math.nan if v is None else float(v) for v in objectives], dtype=np.float64)
    if np.isinf(values).any():
        raise InvalidInputError("objectives must be finite numbers (a failed trial is None or NaN)")
    return values


def _best_so_far(values: FloatArray) -> FloatArray:
    if values.size == 0:
        return values
    # Inputs are checked finite, so -inf stands for "no success yet" and never wins the running maximum.
    running = np.maximum.accumulate(np.where(np.isnan(values), -np.inf, values))
    return np.where(np.isneginf(running), np.nan, running)


def _first_reach(curve: FloatArray, target: float) -> int | None:
    hits = np.flatnonzero(curve >= target)  # NaN compares False: a failed trial reaches nothing
    return int(hits[0]) + 1 if hits.size else None


def _stream(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([stream, seed])


def _bootstrap_means(matrix: FloatArray, n_boot: int, rng: np.random.Generator) -> FloatArray:
    """Column means of n_boot resamples of the rows of an (R, T) matrix: shape (n_boot, T), NaN-aware."""
    n_rep = matrix.shape[0]
    # A resample with replacement is fully described by how often it picks each replicate, so an (n_boot, R)
    # count matrix gives every resampled mean in two matrix products, without an (n_boot, R, T) gather.
    counts = rng.multinomial(n_rep, np.full(n_rep, 1.0 / n_rep), size=n_boot).astype(np.float64)
    present = ~np.isnan(matrix)
    totals = counts @ np.where(present, matrix, 0.0)
    sizes = counts @ present.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        means: FloatArray = totals / sizes
    return means


def _nan_mean(matrix: FloatArray) -> FloatArray:
    present = ~np.isnan(matrix)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean: FloatArray = np.where(present, matrix, 0.0).sum(axis=0) / present.sum(axis=0)
    return mean


def _percentile_interval(draws: FloatArray, mean: FloatArray, confidence: float) -> tuple[FloatArray, FloatArray]:
    tail = (1.0 - confidence) / 2.0
    has_draw = ~np.isnan(draws).all(axis=0)
    # Columns without any draw are zero-filled only to keep nanquantile quiet; they are set back to NaN below.
    lo, hi = np.nanquantile(np.where(has_draw, draws, 0.0), [tail, 1.0 - tail], axis=0)
    # The percentiles of the resampled means can miss the sample mean by round-off (e.g. when all values are
    # equal); an interval that excluded its own point estimate would only confuse a reader.
    lo = np.where(has_draw, np.fmin(lo, mean), np.nan)
    hi = np.where(has_draw, np.fmax(hi, mean), np.nan)
    return lo, hi


def _mean_ci(
    matrix: FloatArray, confidence: float, n_boot: int, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray, FloatArray]:
    mean = _nan_mean(matrix)
    lo, hi = _percentile_interval(_bootstrap_means(matrix, n_boot, rng), mean, confidence)
    return mean, lo, hi


def _prepare(curves: Mapping[str, Sequence[Sequence[float | None]]]) -> dict[str, list[FloatArray]]:
    """Each space's best-so-far curves, checked: at least one space, replicate and trial each."""
    if len(curves) == 0:
        raise InvalidInputError("no search spaces to compare")
    prepared: dict[str, list[FloatArray]] = {}
    for name, replicates in curves.items():
        if len(replicates) == 0:
            raise InvalidInputError(f"search space {name!r} has no replicate studies")
        rows = [_best_so_far(_objectives_array(objectives)) for objectives in replicates]
        if any(row.size == 0 for row in rows):
            raise InvalidInputError(f"search space {name!r} has a replicate study without trials")
        prepared[name] = rows
    return prepared


def _best_objective(prepared: Mapping[str, list[FloatArray]]) -> float:
    finals = np.array([row[-1] for rows in prepared.values() for row in rows])
    if np.isnan(finals).all():
        raise InvalidInputError("no trial of the comparison succeeded: there is no best objective to reach")
    return float(np.nanmax(finals))


def _censored_trials(rows: list[FloatArray], target: float) -> tuple[tuple[int | None, ...], FloatArray]:
    """Each replicate's trials-to-target, and the same with never-reached ones counted as their trials + 1."""
    reached = tuple(_first_reach(row, target) for row in rows)
    censored = np.array(
        [row.size + 1 if t is None else t for t, row in zip(reached, rows, strict=True)], dtype=np.float64
    )
    return reached, censored


def _estimate(values: FloatArray, confidence: float, n_boot: int, rng: np.random.Generator) -> Estimate:
    mean, lo, hi = _mean_ci(values[:, None], confidence, n_boot, rng)
    return Estimate(float(mean[0]), float(lo[0]), float(hi[0]), int((~np.isnan(values)).sum()))


def _summarize_space(
    name: str, rows: list[FloatArray], target: float, confidence: float, n_boot: int, rng: np.random.Generator
) -> SpaceSummary:
    common = min(row.size for row in rows)
    prefix = np.stack([row[:common] for row in rows])
    curve_mean, curve_lo, curve_hi = _mean_ci(prefix, confidence, n_boot, rng)
    reached, censored = _censored_trials(rows, target)
    return SpaceSummary(
        name=name,
        n_replicates=len(rows),
        n_trials=tuple(row.size for row in rows),
        best_so_far_mean=tuple(curve_mean.tolist()),
        best_so_far_lo=tuple(curve_lo.tolist()),
        best_so_far_hi=tuple(curve_hi.tolist()),
        best_so_far_n=tuple((~np.isnan(prefix)).sum(axis=0).tolist()),
        final_best=_estimate(np.array([row[-1] for row in rows]), confidence, n_boot, rng),
        trials_to_target=reached,
        trials_to_target_mean=_estimate(censored, confidence, n_boot, rng),
        n_reached=sum(t is not None for t in reached),
    )


def _difference(
    prepared: Mapping[str, list[FloatArray]], target: float, confidence: float, n_boot: int, seed: int
) -> SpaceDifference:
    (name_a, rows_a), (name_b, rows_b) = list(prepared.items())[:2]
    censored_a = _censored_trials(rows_a, target)[1]
    censored_b = _censored_trials(rows_b, target)[1]
    rng = _stream(seed, _DIFFERENCE_STREAM)
    draws_a = _bootstrap_means(censored_a[:, None], n_boot, rng)
    draws = draws_a - _bootstrap_means(censored_b[:, None], n_boot, rng)
    mean = np.array([censored_a.mean() - censored_b.mean()])
    lo, hi = _percentile_interval(draws, mean, confidence)
    return SpaceDifference(
        space_a=name_a,
        space_b=name_b,
        mean=float(mean[0]),
        lo=float(lo[0]),
        hi=float(hi[0]),
        fraction_positive=float((draws > 0).mean()),
    )


def _json_ready(value: object) -> object:
    if isinstance(value, dict):
        return {key: _json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(item) for item in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
