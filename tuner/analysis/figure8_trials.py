"""Figure 8's trials one by one, for ``trials.csv``: objective, best so far in the study, last epoch, Sobol or not."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from tuner.analysis.figure8 import sobol_trials
from tuner.analysis.reports import UNCOUNTED_STATES, points_by_epoch
from tuner.storage import Storage
from tuner.study.states import TrialState

__all__ = ["TrialRow", "trial_rows"]


@dataclass(frozen=True)
class TrialRow:
    """One trial for ``trials.csv``: its objective, best so far in its study, last-epoch metrics, Sobol or not."""

    study_id: int
    space: str
    replicate: int | None
    trial: int
    state: TrialState
    sobol: bool
    objective: float | None
    best_so_far: float | None
    epochs_run: int
    val_accuracy_last: float | None
    test_accuracy_last: float | None
    flip_ratio_last: float | None
    error: str | None
    parameters: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The fields, with ``parameters`` flattened into ``param_<name>`` columns at the end."""
        row = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "parameters"}
        return {**row, **{f"param_{k}": v for k, v in self.parameters.items()}}


def trial_rows(storage: Storage, comparison_id: int, *, n_initial: int) -> list[TrialRow]:
    """One row per trial of the comparison, study by study in trial order (see :class:`TrialRow`).

    Raises:
        NotFoundError: no comparison has that id.
    """
    rows: list[TrialRow] = []
    for study in storage.comparison_studies(comparison_id):
        trials = sorted(storage.trials(study.id), key=lambda t: t.number)
        curves = storage.curves(study.id)
        sobol = {t.id for t in sobol_trials(trials, study.config.n_trials, n_initial)}
        best = -math.inf
        for trial in trials:
            points = points_by_epoch(curves.get(trial.id, []))
            last = points[-1] if points else {}
            if trial.objective is not None and trial.state not in UNCOUNTED_STATES:
                best = max(best, trial.objective)
            rows.append(
                TrialRow(
                    study_id=study.id,
                    space=study.config.arm,
                    replicate=study.replicate,
                    trial=trial.number,
                    state=trial.state,
                    sobol=trial.id in sobol,
                    objective=trial.objective,
                    best_so_far=None if math.isinf(best) else best,
                    epochs_run=len(points),
                    val_accuracy_last=last.get("val_accuracy"),
                    test_accuracy_last=last.get("test_accuracy"),
                    flip_ratio_last=last.get("flip_ratio"),
                    error=trial.error.splitlines()[0] if trial.error else None,
                    parameters=trial.parameters,
                )
            )
    return rows
