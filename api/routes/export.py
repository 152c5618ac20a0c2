"""CSV export of a study's or a comparison's trials and learning curves, one row per trial and epoch.

Columns: ``study_id, space, replicate, trial, trial_state, objective``, then one ``param_<name>`` column per
tuned parameter (the union over the spaces exported, empty where a space has no such parameter), then
``epoch`` and one column per metric. A trial with no stored epoch yet gets one row with an empty ``epoch``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import APIRouter, Response

from api.deps import ReadAccess, StorageDep
from api.routes.comparisons import ComparisonId
from api.routes.studies import StudyId
from tuner.storage import CurvePoint, Storage, StudyRecord, TrialRecord

__all__ = ["router", "studies_csv"]

router = APIRouter(tags=["export"], dependencies=[ReadAccess])

_CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "the CSV file"}
}
_LEADING = ("study_id", "space", "replicate", "trial", "trial_state", "objective")


def _cell(value: object) -> object:
    return "" if value is None else value


def studies_csv(storage: Storage, studies: Sequence[StudyRecord]) -> str:
    """The CSV text of the studies' trials and curves (see the module docstring); two queries per study."""
    loaded: list[tuple[StudyRecord, list[TrialRecord], dict[int, list[CurvePoint]]]] = [
        (study, storage.trials(study.id), storage.curves(study.id)) for study in studies
    ]
    parameters = sorted({name for _, trials, _ in loaded for t in trials for name in t.parameters})
    metrics = sorted({p.metric for _, _, curves in loaded for points in curves.values() for p in points})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*_LEADING, *(f"param_{name}" for name in parameters), "epoch", *metrics])
    for study, trials, curves in loaded:
        for trial in trials:
            lead = [
                study.id,
                study.config.space,
                _cell(study.replicate),
                trial.number,
                trial.state,
                _cell(trial.objective),
            ]
            params = [_cell(trial.parameters.get(name)) for name in parameters]
            for epoch, values in _epochs(curves.get(trial.id, [])) or [(None, {})]:
                writer.writerow([*lead, *params, _cell(epoch), *(_cell(values.get(m)) for m in metrics)])
    return out.getvalue()


def _epochs(points: Iterable[CurvePoint]) -> list[tuple[int | None, dict[str, float]]]:
    by_epoch: dict[int, dict[str, float]] = {}
    for point in points:
        by_epoch.setdefault(point.epoch, {})[point.metric] = point.value
    return [(epoch, by_epoch[epoch]) for epoch in sorted(by_epoch)]


def _csv_response(text: str, filename: str) -> Response:
    return Response(
        content=text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/studies/{study_id}/export.csv", responses=_CSV_RESPONSE, summary="Export as CSV")
def export_study(study_id: StudyId, storage: StorageDep) -> Response:
    """The study's trials and their per-epoch metrics as CSV."""
    study = storage.get_study(study_id)
    return _csv_response(studies_csv(storage, [study]), f"study-{study_id}.csv")


@router.get("/comparisons/{comparison_id}/export.csv", responses=_CSV_RESPONSE, summary="Export as CSV")
def export_comparison(comparison_id: ComparisonId, storage: StorageDep) -> Response:
    """Every study of the comparison, by space and replicate, with its trials and per-epoch metrics as CSV."""
    return _csv_response(
        studies_csv(storage, storage.comparison_studies(comparison_id)), f"comparison-{comparison_id}.csv"
    )
