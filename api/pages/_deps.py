"""Dependencies of the page routes, as ``Annotated`` aliases: the ids in the path and what a page shows.

Each payload dependency loads its page's data before the handler runs and raises
:class:`~bnn_errors.NotFoundError` for an unknown id, which :class:`~api.pages.PageRoute` answers; the handlers
only render. The loaders are plain functions because they query the database: FastAPI runs them in its
thread pool, off the event loop.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path

from api.deps import StorageDep
from api.pages._payloads import comparison_payload, study_payload
from api.schemas import MAX_ID
from tuner.analysis.reports import comparison_view

__all__ = ["ComparisonId", "ComparisonPayload", "ComparisonViewJson", "StudyId", "StudyPayload"]

ComparisonId = Annotated[int, Path(ge=1, le=MAX_ID, description="id of the comparison")]
StudyId = Annotated[int, Path(ge=1, le=MAX_ID, description="id of the study")]


def _comparison_payload(storage: StorageDep, comparison_id: ComparisonId) -> dict[str, Any]:
    return comparison_payload(storage, comparison_id)


def _study_payload(storage: StorageDep, study_id: StudyId) -> dict[str, Any]:
    return study_payload(storage, study_id)


def _comparison_view_json(storage: StorageDep, comparison_id: ComparisonId) -> dict[str, Any]:
    view: dict[str, Any] = comparison_view(storage, comparison_id).model_dump(mode="json")
    return view


ComparisonPayload = Annotated[dict[str, Any], Depends(_comparison_payload)]
"""The comparison page's data (:func:`~api.pages.comparison_payload`) of the comparison in the path."""
StudyPayload = Annotated[dict[str, Any], Depends(_study_payload)]
"""The study page's data (:func:`~api.pages.study_payload`) of the study in the path."""
ComparisonViewJson = Annotated[dict[str, Any], Depends(_comparison_view_json)]
"""The comparison view (``tuner.analysis.reports.comparison_view``) of the comparison in the path, as JSON."""
