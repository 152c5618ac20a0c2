"""Typed reports of stored studies and comparisons, shared by the CLI, the API (as its response models) and scripts.

A study report lists its trials, each with ``number``, ``state``, ``parameters``, ``objective`` and, if asked, its
per-epoch ``points``. A comparison report adds the analysis of Figure 8: per space the mean best-so-far with its
bootstrap CI per trial index, and trials-to-target (see :func:`tuner.analysis.compare_spaces`). A report's fields
include its configuration's (:mod:`tuner.study.config`), so a new study option shows in every report.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bnn_errors import InvalidInputError
from tuner.analysis.paired import fixed_target_table, horizontal
from tuner.analysis.statistics import best_so_far, compare_spaces
from tuner.storage import ComparisonRecord, CurvePoint, Storage, StudyRecord, TrialRecord
from tuner.study.config import ComparisonFields, StudyFields
from tuner.study.states import StudyState, TrialState

__all__ = [
    "AnalysisReport",
    "ComparisonReport",
    "ComparisonStudyReport",
    "ComparisonSummaryReport",
    "PairedRowReport",
    "EstimateReport",
    "HorizontalReport",
    "SpaceAnalysisReport",
    "SpaceDifferenceReport",
    "StudyDetailReport",
    "StudyReport",
    "TrialReport",
    "comparison_summary",
    "comparison_view",
    "objective_sequence",
    "points_by_epoch",
    "study_report",
    "study_view",
    "trial_view",
]

# Trials that ended without counting towards the study's budget are left out of best-so-far curves.
UNCOUNTED_STATES = frozenset({TrialState.ABANDONED, TrialState.RUNNING})

# Reports carry values already checked on submission: not strict, so that they also read back from JSON.
_REPORT = ConfigDict(strict=False, extra="forbid", frozen=True)
# The analysis may grow fields (tolerance sensitivity...): kept rather than refused.
_ANALYSIS = ConfigDict(extra="allow", frozen=True)


class TrialReport(BaseModel):
    """A trial: one parameterization of a study; ``points`` only where asked for."""

    model_config = _REPORT

    id: int
    number: int
    state: TrialState
    parameters: dict[str, Any]
    objective: float | None
    objective_sem: float | None
    error: str | None
    attempts: int
    worker_host: str | None
    node_id: str | None
    started_at: datetime
    finished_at: datetime | None
    points: list[dict[str, int | float]] | None = None


class StudyReport(StudyFields):
    """A stored study, without its trials: its configuration's fields and where it stands."""

    model_config = _REPORT

    id: int
    comparison_id: int | None
    replicate: int | None
    arm: str = Field(description="its space, or <space>-random for a random-search study")
    state: StudyState
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class StudyDetailReport(StudyReport):
    """A study with its progress, best trial so far, best-so-far curve and trials."""

    trials_done: int
    best_objective: float | None
    best_parameters: dict[str, Any] | None
    best_so_far: list[float | None]
    trials: list[TrialReport]


class EstimateReport(BaseModel):
    """A mean over replicates with its bootstrap interval (null where there is nothing to average)."""

    model_config = _ANALYSIS

    mean: float | None
    lo: float | None
    hi: float | None
    n: int


class SpaceAnalysisReport(BaseModel):
    """Figure 8 for one space: mean best-so-far with its CI per trial index, and trials-to-target."""

    model_config = _ANALYSIS

    name: str
    n_replicates: int
    n_trials: list[int]
    best_so_far_mean: list[float | None]
    best_so_far_lo: list[float | None]
    best_so_far_hi: list[float | None]
    best_so_far_n: list[int]
    final_best: EstimateReport
    trials_to_target: list[int | None]
    trials_to_target_mean: EstimateReport
    n_reached: int


class SpaceDifferenceReport(BaseModel):
    """Mean trials-to-target of ``space_a`` minus ``space_b``, with its bootstrap interval."""

    model_config = _ANALYSIS

    space_a: str
    space_b: str
    mean: float | None
    lo: float | None
    hi: float | None
    fraction_positive: float | None


class PairedRowReport(BaseModel):
    """Arm ``arm_a`` minus arm ``arm_b`` in trials to reach one fixed target, over replicates paired by seed."""

    model_config = _ANALYSIS

    arm_a: str
    arm_b: str
    target: float
    mean: float | None
    ci_low: float | None
    ci_high: float | None
    p: float | None
    p_holm: float | None
    n_pairs: int
    n_reached_a: int
    n_reached_b: int


class HorizontalReport(BaseModel):
    """How many more trials arm ``arm_b`` needs to match what arm ``arm_a`` had after ``k`` trials (paired)."""

    model_config = _ANALYSIS

    arm_a: str
    arm_b: str
    k: int
    mean: float | None
    ci_low: float | None
    ci_high: float | None
    n_pairs: int


class AnalysisReport(BaseModel):
    """The analysis of a comparison (see :func:`tuner.analysis.compare_spaces`)."""

    model_config = _ANALYSIS

    best_objective: float
    tolerance: float
    target: float
    confidence: float
    n_boot: int
    spaces: list[SpaceAnalysisReport]
    difference: SpaceDifferenceReport | None
    paired: list[PairedRowReport] = Field(
        default=[], description="the first arm against each other, at the comparison's fixed targets"
    )
    horizontal: list[HorizontalReport] = Field(
        default=[], description="read across: the trials each other arm needs to match the first arm after k"
    )


class ComparisonStudyReport(BaseModel):
    """One study of a comparison, with its progress and best-so-far curve."""

    model_config = _REPORT

    id: int
    space: str
    arm: str
    replicate: int | None
    state: StudyState
    trials_done: int
    n_trials: int
    best_so_far: list[float | None]


class ComparisonSummaryReport(ComparisonFields):
    """A stored comparison, without its studies and analysis: its configuration's fields and its state."""

    model_config = _REPORT

    id: int
    arms: list[str] = Field(description="the arms compared: the spaces, then the random-search arms")
    state: StudyState
    created_at: datetime


class ComparisonReport(ComparisonSummaryReport):
    """A comparison with its studies' progress and, once a trial has completed, its analysis."""

    trials_done: int
    trials_total: int
    studies: list[ComparisonStudyReport]
    analysis: AnalysisReport | None


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def points_by_epoch(points: Iterable[CurvePoint]) -> list[dict[str, float]]:
    """Long-format curve points folded into one dict per epoch: ``{"epoch": 1, "val_accuracy": ...}``.

    A trial of several members (folds x repeats) gives each metric's mean over the members that reported it.
    """
    sums: dict[int, dict[str, list[float]]] = {}
    for point in points:
        sums.setdefault(point.epoch, {}).setdefault(point.metric, []).append(point.value)
    return [
        {"epoch": epoch, **{metric: sum(values) / len(values) for metric, values in sums[epoch].items()}}
        for epoch in sorted(sums)
    ]


def trial_view(trial: TrialRecord, points: Iterable[CurvePoint] | None = None) -> TrialReport:
    """One trial's report; with ``points`` its curve too."""
    curve = None if points is None else points_by_epoch(points)
    return TrialReport(
        id=trial.id,
        number=trial.number,
        state=trial.state,
        parameters=trial.parameters,
        objective=trial.objective,
        objective_sem=trial.objective_sem,
        error=trial.error,
        attempts=trial.attempts,
        worker_host=trial.worker_host,
        node_id=trial.node_id,
        started_at=trial.started_at,
        finished_at=trial.finished_at,
        points=curve,
    )


def objective_sequence(trials: Iterable[TrialRecord]) -> list[float | None]:
    """A study's objectives in trial order: failed trials as None, abandoned and running ones left out."""
    return [t.objective for t in sorted(trials, key=lambda t: t.number) if t.state not in UNCOUNTED_STATES]


def study_report(study: StudyRecord) -> StudyReport:
    """A stored study's report, without its trials."""
    return StudyReport(**_record_fields(study), **study.config.model_dump(), arm=study.config.arm)


def comparison_summary(comparison: ComparisonRecord) -> ComparisonSummaryReport:
    """A stored comparison's report, without its studies and analysis."""
    return ComparisonSummaryReport(
        **_record_fields(comparison), **comparison.config.model_dump(), arms=comparison.config.arms
    )


def _record_fields(record: StudyRecord | ComparisonRecord) -> dict[str, Any]:
    return {name: value for name, value in vars(record).items() if name != "config"}


def _curve(objectives: list[float | None]) -> list[float | None]:
    # NaN (no trial completed yet) is not JSON: null.
    return [None if v != v else v for v in best_so_far(objectives)]


def paired_rows(
    curves: dict[str, list[list[float | None]]], targets: list[float], n_trials: int
) -> list[dict[str, Any]]:
    """The first arm against every other at each fixed target: paired bootstrap, Holm across the targets.

    Empty without targets, or while an arm has fewer than two replicates to pair.
    """
    arms = list(curves)
    rows: list[dict[str, Any]] = []
    if not targets or len(arms) < 2:
        return rows
    for other in arms[1:]:
        try:
            table = fixed_target_table(curves[arms[0]], curves[other], targets, n_trials=n_trials, n_boot=2000)
        except InvalidInputError:
            continue  # too few pairs yet
        rows += [
            {"arm_a": arms[0], "arm_b": other, **{k: v for k, v in row.to_dict().items() if k in _PAIRED_KEYS}}
            for row in table
        ]
    return rows


_PAIRED_KEYS = frozenset(PairedRowReport.model_fields) - {"arm_a", "arm_b"}


def horizontal_rows(curves: dict[str, list[list[float | None]]], n_trials: int) -> list[dict[str, Any]]:
    """For every arm after the first: the trials it needs to match the first arm's best after k = 3, 5, 10."""
    arms = list(curves)
    ks = [k for k in (3, 5, 10) if k <= n_trials]
    rows: list[dict[str, Any]] = []
    for other in arms[1:]:
        try:
            table = horizontal(curves[arms[0]], curves[other], ks, n_trials=n_trials, n_boot=2000)
        except InvalidInputError:
            continue  # too few pairs, or the first arm has no level yet
        keys = frozenset(HorizontalReport.model_fields)
        rows += [
            {"arm_a": arms[0], "arm_b": other, **{k: v for k, v in r.to_dict().items() if k in keys}} for r in table
        ]
    return rows


def study_view(storage: Storage, study_id: int, *, with_points: bool = True) -> StudyDetailReport:
    """A study with its trials (and their curves), progress and best trial."""
    study = storage.get_study(study_id)
    trials = storage.trials(study_id)
    curves = storage.curves(study_id) if with_points else {}
    objectives = objective_sequence(trials)
    completed = [t for t in trials if t.state is TrialState.COMPLETED and t.objective is not None]
    best = max(completed, key=lambda t: t.objective or 0.0, default=None)
    return StudyDetailReport(
        **study_report(study).model_dump(),
        trials_done=sum(t.state not in UNCOUNTED_STATES for t in trials),
        best_objective=None if best is None else best.objective,
        best_parameters=None if best is None else best.parameters,
        best_so_far=_curve(objectives),
        trials=[trial_view(t, curves.get(t.id, []) if with_points else None) for t in trials],
    )


def comparison_view(storage: Storage, comparison_id: int, *, tolerance: float = 0.01) -> ComparisonReport:
    """A comparison with its studies' progress and, once any trial completed, the Figure 8 analysis."""
    comparison = storage.get_comparison(comparison_id)
    studies = storage.comparison_studies(comparison_id)
    curves: dict[str, list[list[float | None]]] = {arm: [] for arm in comparison.config.arms}
    rows: list[ComparisonStudyReport] = []
    for study in studies:
        objectives = objective_sequence(storage.trials(study.id))
        if objectives:
            curves[study.config.arm].append(objectives)
        rows.append(
            ComparisonStudyReport(
                id=study.id,
                space=study.config.space,
                arm=study.config.arm,
                replicate=study.replicate,
                state=study.state,
                trials_done=len(objectives),
                n_trials=study.config.n_trials,
                best_so_far=_curve(objectives),
            )
        )
    # Early in a run some spaces have no finished trial yet: analyse those that have.
    with_data = {space: runs for space, runs in curves.items() if runs}
    analysis: AnalysisReport | None
    try:
        summary = compare_spaces(with_data, tolerance=tolerance).to_dict()
        summary["paired"] = paired_rows(with_data, comparison.config.targets, comparison.config.n_trials)
        summary["horizontal"] = horizontal_rows(with_data, comparison.config.n_trials)
        analysis = AnalysisReport.model_validate(summary)
    except InvalidInputError:
        analysis = None  # no trial has completed yet (only failures so far)
    if not with_data:
        analysis = None
    return ComparisonReport(
        **comparison_summary(comparison).model_dump(),
        trials_done=sum(row.trials_done for row in rows),
        trials_total=comparison.config.n_trials * len(studies),
        studies=rows,
        analysis=analysis,
    )
