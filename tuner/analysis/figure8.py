"""Figure 8 of a stored comparison in numbers: each study's best trial, per-space estimates, controls and the verdict.

:func:`summarize` reads a latent-vs-filter comparison out of storage and gives every number of the Figure 8 report
(``experiments/figure8.py`` writes it; :mod:`tuner.analysis.figure8_report` words it): per space the mean best
validation accuracy and the test accuracy of that best trial, the spread of the Sobol (random) configurations, the
trials-to-target difference for several tolerances, and the frozen-binary-weights control
(:mod:`tuner.analysis.figure8_trials` gives one row per trial for ``trials.csv``). Every result is a frozen
dataclass; ``to_dict()`` gives the JSON of ``summary.json``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import numpy as np

from tuner.analysis.reports import (
    ComparisonReport,
    SpaceDifferenceReport,
    comparison_view,
    objective_sequence,
    points_by_epoch,
)
from tuner.analysis.statistics import bootstrap_mean_ci, tolerance_sensitivity
from tuner.storage import CurvePoint, Storage, StudyRecord, TrialRecord
from tuner.study.states import TrialState

__all__ = [
    "FROZEN_COLUMNS",
    "PAPER_TRIALS_SAVED",
    "TOLERANCES",
    "VALIDATION_RECORDINGS",
    "validation_recordings",
    "Figure8Summary",
    "FrozenControl",
    "FrozenRun",
    "MeanEstimate",
    "SpaceResult",
    "Spread",
    "StudyResult",
    "ToleranceRow",
    "Verdict",
    "mean_estimate",
    "objective_epoch",
    "sobol_trials",
    "spread",
    "study_result",
    "summarize",
    "summarize_frozen",
    "validation_noise",
    "verdict",
]

TOLERANCES = (0.005, 0.01, 0.02, 0.03)
# FSDD's validation split is takes 5-9 of 6 speakers x 10 digits: 300 recordings.
VALIDATION_RECORDINGS = 300
NON_TEST_RECORDINGS = 2700  # 6 speakers x 10 digits x takes 5-49
# The paper's claim: the filter space reaches a good network about 10 trials sooner.
PAPER_TRIALS_SAVED = 10.0
# The frozen control's metrics, as `bnn-tune train --json` prints them (the columns of frozen.csv after the seed).
FROZEN_COLUMNS = ("val_accuracy", "test_accuracy", "best_val_accuracy", "train_accuracy", "total_seconds")


@dataclass(frozen=True)
class MeanEstimate:
    """A mean over replicates with its 95% bootstrap interval; None for all three where there is no value."""

    mean: float | None
    lo: float | None
    hi: float | None
    n: int

    def overlaps(self, other: MeanEstimate) -> bool:
        """Whether the two intervals share a value (False where either has none)."""
        if self.lo is None or self.hi is None or other.lo is None or other.hi is None:
            return False
        return self.lo <= other.hi and other.lo <= self.hi

    def to_dict(self) -> dict[str, float | int | None]:
        """``{"mean", "lo", "hi", "n"}``."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Spread:
    """How a set of values spreads: count, mean, sample standard deviation (0 for one value), min and max."""

    n: int
    mean: float | None
    std: float | None
    min: float | None
    max: float | None

    def to_dict(self) -> dict[str, float | int | None]:
        """``{"n", "mean", "std", "min", "max"}``."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class StudyResult:
    """One replicate study's best trial by its objective, with that trial's test accuracy at the same epoch.

    ``sobol_objectives``: the objectives of its Sobol (quasi-random) trials, see :func:`sobol_trials`.
    """

    space: str
    replicate: int
    best_val: float | None
    best_test: float | None
    sobol_objectives: tuple[float, ...]


@dataclass(frozen=True)
class SpaceResult:
    """One space's studies (by replicate), the mean of their best trials, and the spread of their Sobol trials."""

    name: str
    best_val: MeanEstimate
    best_test: MeanEstimate
    studies: tuple[StudyResult, ...]
    sobol_spread: Spread

    def to_dict(self) -> dict[str, Any]:
        """``{"best_val", "best_test", "per_replicate": [{"replicate", "val", "test"}], "sobol_spread"}``."""
        return {
            "best_val": self.best_val.to_dict(),
            "best_test": self.best_test.to_dict(),
            "per_replicate": [{"replicate": r.replicate, "val": r.best_val, "test": r.best_test} for r in self.studies],
            "sobol_spread": self.sobol_spread.to_dict(),
        }


@dataclass(frozen=True)
class ToleranceRow:
    """The trials-to-target difference ``space_a - space_b`` at one tolerance (a row of
    :func:`tuner.analysis.tolerance_sensitivity`)."""

    tolerance: float
    target: float
    space_a: str
    space_b: str
    mean_trials_a: float
    mean_trials_b: float
    n_reached_a: int
    n_reached_b: int
    difference: float
    lo: float
    hi: float
    fraction_positive: float

    @property
    def excludes_zero(self) -> bool:
        """Whether the difference's interval lies wholly above or below 0."""
        return self.lo > 0 or self.hi < 0

    def to_dict(self) -> dict[str, float | int | str]:
        """The row's fields, in order."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class FrozenRun:
    """One run of the frozen-binary-weights control: its seed and last-epoch metrics (a row of ``frozen.csv``)."""

    seed: int
    val_accuracy: float
    test_accuracy: float
    best_val_accuracy: float
    train_accuracy: float
    total_seconds: float

    @classmethod
    def from_mapping(cls, row: Mapping[str, Any]) -> FrozenRun:
        """A run from ``seed`` and the :data:`FROZEN_COLUMNS` of ``row`` (a CSV row's strings, or numbers).

        Raises:
            KeyError: a column is missing.
            TypeError, ValueError: a value is not a number.
        """
        return cls(int(row["seed"]), *(float(row[k]) for k in FROZEN_COLUMNS))

    def to_dict(self) -> dict[str, float | int]:
        """``{"seed", *FROZEN_COLUMNS}``."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class FrozenControl:
    """The frozen control's runs and the spread of their validation and test accuracies (``val.n == 0``: not run)."""

    runs: tuple[FrozenRun, ...]
    val: Spread
    test: Spread

    def to_dict(self) -> dict[str, Any]:
        """``{"runs": [...], "val", "test"}``."""
        return {"runs": [r.to_dict() for r in self.runs], "val": self.val.to_dict(), "test": self.test.to_dict()}


@dataclass(frozen=True)
class Figure8Summary:
    """Every number of the Figure 8 report of one comparison.

    ``view``: the comparison's report with its analysis (best-so-far, trials-to-target). ``spaces`` in the
    comparison's order. ``sensitivity``: the trials-to-target difference of the first two arms per tolerance; empty
    unless both have a finished trial. ``run_seconds``: from the comparison's creation
    to its last finished trial. ``n_initial``: the Sobol trials per study the summary counted (not in
    :meth:`to_dict`, whose keys are those of the stored ``summary.json`` files).
    """

    view: ComparisonReport
    spaces: tuple[SpaceResult, ...]
    sensitivity: tuple[ToleranceRow, ...]
    run_seconds: float | None
    frozen: FrozenControl
    n_initial: int

    def space(self, name: str) -> SpaceResult:
        """The result of the space called ``name``.

        Raises:
            KeyError: the comparison has no such space.
        """
        for result in self.spaces:
            if result.name == name:
                return result
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready builtins: ``{"view", "spaces", "sensitivity", "run_seconds", "frozen"}``."""
        return {
            "view": self.view.model_dump(mode="json"),
            "spaces": {s.name: s.to_dict() for s in self.spaces},
            "sensitivity": [row.to_dict() for row in self.sensitivity],
            "run_seconds": self.run_seconds,
            "frozen": self.frozen.to_dict(),
        }


class Verdict(StrEnum):
    """How a comparison's trials-to-target difference (latent - filter) reads against the paper's claim."""

    UNKNOWN = "unknown"  # no difference could be computed
    YES = "yes"  # filter faster, by about as many trials as the paper's
    PARTLY = "partly"  # filter faster, by clearly fewer trials than the paper's
    OPPOSITE = "opposite"  # latent faster
    NOT_SHOWN = "not_shown"  # the interval contains 0 (or the spaces are not latent, filter)


def objective_epoch(points: Sequence[Mapping[str, float]], objective: str) -> Mapping[str, float] | None:
    """The epoch a trial's objective was read from: the last one, or the one with the best validation accuracy."""
    if not points:
        return None
    if objective == "val_accuracy_best":
        return max(points, key=lambda p: p.get("val_accuracy", -math.inf))
    return points[-1]


def sobol_trials(trials: Sequence[TrialRecord], n_trials: int, n_initial: int) -> list[TrialRecord]:
    """A study's completed Sobol trials: Ax counts only successful ones towards its ``n_initial`` quasi-random
    points (capped by the study's ``n_trials``)."""
    completed = [t for t in sorted(trials, key=lambda t: t.number) if t.state == TrialState.COMPLETED]
    return completed[: min(n_initial, n_trials)]


def study_result(
    study: StudyRecord, trials: Sequence[TrialRecord], curves: Mapping[int, Sequence[CurvePoint]], n_initial: int
) -> StudyResult:
    """The best-by-validation trial of one study and the test accuracy it reached at its objective's epoch."""
    completed = [t for t in trials if t.state == TrialState.COMPLETED and t.objective is not None]
    best = max(completed, key=lambda t: t.objective or 0.0, default=None)
    best_test = None
    if best is not None:
        epoch = objective_epoch(points_by_epoch(curves.get(best.id, [])), study.config.objective)
        best_test = None if epoch is None else epoch.get("test_accuracy")
    sobol = sobol_trials(trials, study.config.n_trials, n_initial)
    return StudyResult(
        space=study.config.arm,
        replicate=study.replicate if study.replicate is not None else -1,
        best_val=None if best is None else best.objective,
        best_test=best_test,
        sobol_objectives=tuple(float(t.objective) for t in sobol if t.objective is not None),
    )


def mean_estimate(values: Sequence[float | None]) -> MeanEstimate:
    """The mean of the values present (None left out) with its 95% bootstrap interval."""
    present = [v for v in values if v is not None]
    if not present:
        return MeanEstimate(mean=None, lo=None, hi=None, n=0)
    mean, lo, hi = bootstrap_mean_ci(np.array(present))
    return MeanEstimate(mean=float(mean), lo=float(lo), hi=float(hi), n=len(present))


def spread(values: Sequence[float]) -> Spread:
    """Count, mean, sample standard deviation, min and max of ``values`` (all None but the count when empty)."""
    if not values:
        return Spread(n=0, mean=None, std=None, min=None, max=None)
    data = np.array(values)
    return Spread(
        n=int(data.size),
        mean=float(data.mean()),
        std=float(data.std(ddof=1)) if data.size > 1 else 0.0,
        min=float(data.min()),
        max=float(data.max()),
    )


def summarize_frozen(runs: Sequence[FrozenRun]) -> FrozenControl:
    """The frozen control's runs and the spread of their validation and test accuracies."""
    return FrozenControl(
        runs=tuple(runs),
        val=spread([r.val_accuracy for r in runs]),
        test=spread([r.test_accuracy for r in runs]),
    )


def summarize(
    storage: Storage,
    comparison_id: int,
    *,
    n_initial: int,
    frozen: Sequence[FrozenRun] = (),
    tolerances: Sequence[float] = TOLERANCES,
) -> Figure8Summary:
    """Every number of the Figure 8 report, from the stored comparison.

    Args:
        n_initial: the Sobol trials the scheduler asks Ax for per study (before the study's ``n_trials`` cap).
        frozen: the frozen control's runs, if it was run.
        tolerances: those of the trials-to-target sensitivity table.

    Raises:
        NotFoundError: no comparison has that id.
    """
    view = comparison_view(storage, comparison_id)
    results: list[StudyResult] = []
    curves_by_space: dict[str, list[list[float | None]]] = {arm: [] for arm in view.arms}
    finished: list[datetime] = []
    for study in storage.comparison_studies(comparison_id):
        trials = storage.trials(study.id)
        results.append(study_result(study, trials, storage.curves(study.id), n_initial))
        sequence = objective_sequence(trials)
        if sequence:
            curves_by_space[study.config.arm].append(sequence)
        finished += [t.finished_at for t in trials if t.finished_at is not None]
    spaces = []
    for space in view.arms:
        mine = tuple(sorted((r for r in results if r.space == space), key=lambda r: r.replicate))
        spaces.append(
            SpaceResult(
                name=space,
                best_val=mean_estimate([r.best_val for r in mine]),
                best_test=mean_estimate([r.best_test for r in mine]),
                studies=mine,
                sobol_spread=spread([v for r in mine for v in r.sobol_objectives]),
            )
        )
    sensitivity: tuple[ToleranceRow, ...] = ()
    # Without a completed trial (analysis None) there is no best objective to set targets from.
    if view.analysis is not None and len(curves_by_space) >= 2 and all(list(curves_by_space.values())[:2]):
        sensitivity = tuple(ToleranceRow(**row) for row in tolerance_sensitivity(curves_by_space, tolerances))
    created = storage.get_comparison(comparison_id).created_at
    return Figure8Summary(
        view=view,
        spaces=tuple(spaces),
        sensitivity=sensitivity,
        run_seconds=(max(finished) - created).total_seconds() if finished else None,
        frozen=summarize_frozen(frozen),
        n_initial=n_initial,
    )


def validation_recordings(folds: int) -> int:
    """The validation recordings behind one trial's objective: the fixed split's 300, or with k folds every non-test
    recording once (each fold validates on its share of the 45 non-test takes)."""
    return VALIDATION_RECORDINGS if folds == 1 else NON_TEST_RECORDINGS


def validation_noise(accuracy: float, folds: int = 1) -> float:
    """The binomial standard error of a trial's validation accuracy near ``accuracy`` on FSDD (evaluation noise
    only: training noise comes on top)."""
    return math.sqrt(accuracy * (1.0 - accuracy) / validation_recordings(folds))


def verdict(difference: SpaceDifferenceReport | None) -> Verdict:
    """Whether the filter space needed about :data:`PAPER_TRIALS_SAVED` fewer trials than the latent one.

    ``difference``: mean trials-to-target of ``space_a`` minus ``space_b`` with its interval (the comparison's).
    """
    if difference is None or difference.mean is None or difference.lo is None or difference.hi is None:
        return Verdict.UNKNOWN
    if difference.space_b == "filter" and difference.lo > 0:
        return Verdict.YES if difference.mean >= 0.75 * PAPER_TRIALS_SAVED else Verdict.PARTLY
    if difference.space_b == "filter" and difference.hi < 0:
        return Verdict.OPPOSITE
    return Verdict.NOT_SHOWN
