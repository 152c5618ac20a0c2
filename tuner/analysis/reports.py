"""JSON-ready views of stored studies and comparisons, shared by the CLI and the API.

A study view lists its trials, each with ``number``, ``state``, ``parameters``, ``objective`` and, if asked, its
per-epoch ``points``. A comparison view adds the analysis of Figure 8: per space the mean best-so-far with its
bootstrap CI per trial index, and trials-to-target (see :func:`tuner.analysis.compare_spaces`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from datetime import datetime
from typing import Any

from bnn_errors import InvalidInputError
from tuner.analysis.statistics import best_so_far, compare_spaces
from tuner.storage import CurvePoint, Storage, StudyRecord, TrialRecord

__all__ = [
    "comparison_view",
    "objective_sequence",
    "points_by_epoch",
    "study_view",
    "trial_view",
]

# Trials that ended without counting towards the study's budget are left out of best-so-far curves.
UNCOUNTED_STATES = frozenset({"abandoned", "running"})


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def points_by_epoch(points: Iterable[CurvePoint]) -> list[dict[str, float]]:
    """Long-format curve points folded into one dict per epoch: ``{"epoch": 1, "val_accuracy": ...}``."""
    epochs: dict[int, dict[str, float]] = {}
    for point in points:
        epochs.setdefault(point.epoch, {"epoch": point.epoch})[point.metric] = point.value
    return [epochs[e] for e in sorted(epochs)]


def trial_view(trial: TrialRecord, points: Iterable[CurvePoint] | None = None) -> dict[str, Any]:
    """One trial as a JSON-ready dict; with ``points`` its curve too."""
    view: dict[str, Any] = {
        "id": trial.id,
        "number": trial.number,
        "state": trial.state,
        "parameters": trial.parameters,
        "objective": trial.objective,
        "error": trial.error,
        "attempts": trial.attempts,
        "worker_host": trial.worker_host,
        "node_id": trial.node_id,
        "started_at": _iso(trial.started_at),
        "finished_at": _iso(trial.finished_at),
    }
    if points is not None:
        view["points"] = points_by_epoch(points)
    return view


def objective_sequence(trials: Iterable[TrialRecord]) -> list[float | None]:
    """A study's objectives in trial order: failed trials as None, abandoned and running ones left out."""
    return [t.objective for t in sorted(trials, key=lambda t: t.number) if t.state not in UNCOUNTED_STATES]


def _study_fields(study: StudyRecord) -> dict[str, Any]:
    fields = asdict(study)
    for key in ("created_at", "started_at", "finished_at"):
        fields[key] = _iso(getattr(study, key))
    return fields


def study_view(storage: Storage, study_id: int, *, with_points: bool = True) -> dict[str, Any]:
    """A study with its trials (and their curves), progress and best trial."""
    study = storage.get_study(study_id)
    trials = storage.trials(study_id)
    curves = storage.curves(study_id) if with_points else {}
    objectives = objective_sequence(trials)
    completed = [t for t in trials if t.state == "completed" and t.objective is not None]
    best = max(completed, key=lambda t: t.objective or 0.0, default=None)
    return {
        **_study_fields(study),
        "trials_done": sum(t.state not in UNCOUNTED_STATES for t in trials),
        "best_objective": None if best is None else best.objective,
        "best_parameters": None if best is None else best.parameters,
        "best_so_far": [None if v != v else v for v in best_so_far(objectives)],
        "trials": [trial_view(t, curves.get(t.id, []) if with_points else None) for t in trials],
    }


def comparison_view(storage: Storage, comparison_id: int, *, tolerance: float = 0.01) -> dict[str, Any]:
    """A comparison with its studies' progress and, once any trial completed, the Figure 8 analysis."""
    comparison = storage.get_comparison(comparison_id)
    studies = storage.comparison_studies(comparison_id)
    curves: dict[str, list[list[float | None]]] = {space: [] for space in comparison.spaces}
    study_rows: list[dict[str, Any]] = []
    for study in studies:
        trials = storage.trials(study.id)
        objectives = objective_sequence(trials)
        if objectives:
            curves[study.space].append(objectives)
        study_rows.append(
            {
                "id": study.id,
                "space": study.space,
                "replicate": study.replicate,
                "state": study.state,
                "trials_done": len(objectives),
                "n_trials": study.n_trials,
                "best_so_far": [None if v != v else v for v in best_so_far(objectives)],
            }
        )
    # Early in a run some spaces have no finished trial yet: analyse those that have.
    with_data = {space: runs for space, runs in curves.items() if runs}
    analysis: dict[str, Any] | None
    try:
        analysis = compare_spaces(with_data, tolerance=tolerance).to_dict() if with_data else None
    except InvalidInputError:
        analysis = None  # no trial has completed yet (only failures so far)
    fields = asdict(comparison)
    fields["created_at"] = _iso(comparison.created_at)
    fields["spaces"] = list(comparison.spaces)
    done = sum(row["trials_done"] for row in study_rows)
    return {
        **fields,
        "trials_done": done,
        "trials_total": comparison.n_trials * len(studies),
        "studies": study_rows,
        "analysis": analysis,
    }
