"""What each page shows, as JSON-ready data: read from the storage through :mod:`tuner.analysis.reports`.

The reports come typed (pydantic); a page's payload is their JSON form (``model_dump(mode="json")``) plus what
the charts need: colours per space, the objective's label, best parameters per study and plot-ready curves.
The same payload is inlined in the page, served by its ``/summary`` fragment and at its ``/data`` route.
"""

from __future__ import annotations

from typing import Any

from api.pages._curves import trial_curves
from tuner.analysis.figures import objective_label, space_colors
from tuner.analysis.reports import (
    comparison_summary,
    comparison_view,
    objective_sequence,
    study_report,
    study_view,
)
from tuner.storage import TERMINAL_STUDY_STATES, Storage, StudyRecord

__all__ = ["INDEX_COMPARISONS", "INDEX_STUDIES", "comparison_payload", "index_context", "study_payload"]

INDEX_COMPARISONS = 20
INDEX_STUDIES = 50

# A study view read without points still has the trials' ``points`` field (null); the pages never had it.
_WITHOUT_POINTS: dict[str, Any] = {"trials": {"__all__": {"points"}}}


def _study_json(storage: Storage, study_id: int) -> dict[str, Any]:
    view: dict[str, Any] = study_view(storage, study_id, with_points=False).model_dump(
        mode="json", exclude=_WITHOUT_POINTS
    )
    return view


def comparison_payload(storage: Storage, comparison_id: int) -> dict[str, Any]:
    """Everything the comparison page shows, JSON-ready: the comparison view, best parameters and curves.

    Raises:
        NotFoundError: no comparison has this id.
    """
    view = comparison_view(storage, comparison_id).model_dump(mode="json")
    studies = [_study_json(storage, row["id"]) for row in view["studies"]]
    return {
        "comparison": view,
        "colors": space_colors(view["arms"]),
        "objective_label": objective_label(str(view["objective"])),
        "best": [
            {
                "study_id": study["id"],
                "space": study["space"],
                "arm": study["arm"],
                "replicate": study["replicate"],
                "state": study["state"],
                "best_objective": study["best_objective"],
                "best_parameters": study["best_parameters"],
            }
            for study in studies
        ],
        "curves": [row for study in studies for row in trial_curves(storage, study)],
        "live": view["state"] not in TERMINAL_STUDY_STATES,
    }


def study_payload(storage: Storage, study_id: int) -> dict[str, Any]:
    """Everything the study page shows, JSON-ready: the study view (trials without points) and curves.

    Raises:
        NotFoundError: no study has this id.
    """
    view = _study_json(storage, study_id)
    return {
        "study": view,
        "colors": space_colors([view["arm"]]),
        "objective_label": objective_label(view["objective"]),
        "curves": trial_curves(storage, view),
        "live": view["state"] not in TERMINAL_STUDY_STATES,
    }


def index_context(storage: Storage) -> dict[str, Any]:
    """The newest comparisons and studies with their progress (trials counted, as in the JSON views).

    The records stay typed reports: only the index's templates read them, never a script.
    """
    done: dict[int, int] = {}

    def trials_done(study: StudyRecord) -> int:
        # A study of a listed comparison is often listed on its own too: count its trials once.
        if study.id not in done:
            done[study.id] = len(objective_sequence(storage.trials(study.id)))
        return done[study.id]

    comparison_records = storage.list_comparisons(limit=INDEX_COMPARISONS)
    study_records = storage.list_studies(limit=INDEX_STUDIES)
    comparisons = []
    for comparison in comparison_records:
        studies = storage.comparison_studies(comparison.id)
        comparisons.append(
            {
                "record": comparison_summary(comparison),
                "trials_done": sum(trials_done(study) for study in studies),
                "trials_total": comparison.config.n_trials * len(studies),
            }
        )
    states = [c.state for c in comparison_records] + [s.state for s in study_records]
    return {
        "comparisons": comparisons,
        "comparisons_total": storage.count_comparisons(),
        "studies": [{"record": study_report(study), "trials_done": trials_done(study)} for study in study_records],
        "studies_total": storage.count_studies(),
        "live": any(state not in TERMINAL_STUDY_STATES for state in states),
    }
