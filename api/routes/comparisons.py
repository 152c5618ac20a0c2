"""``/comparisons``: submit a comparison of search spaces, list and read comparisons, cancel one.

Reading a comparison returns the analysis of the paper's Figure 8: per space the mean best-so-far objective
with its bootstrap CI per trial index, and the trials-to-target statistics.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from starlette.concurrency import run_in_threadpool

from api.deps import ComparisonViewsDep as ViewsDep
from api.deps import ReadAccess, SettingsDep, StorageDep, WriteAccess
from api.routes.studies import check_capacity
from api.schemas import (
    MAX_ID,
    MAX_OFFSET,
    MAX_PAGE,
    ComparisonCreate,
    ComparisonPage,
    ComparisonPublic,
    ComparisonSummaryPublic,
)
from tuner.analysis.reports import comparison_summary, comparison_view
from tuner.storage import ComparisonRecord
from tuner.study.submit import submit_comparison

__all__ = ["ComparisonId", "router"]

router = APIRouter(prefix="/comparisons", tags=["comparisons"], dependencies=[ReadAccess])

ComparisonId = Annotated[int, Path(ge=1, le=MAX_ID, description="the comparison's id")]


def _summary(record: ComparisonRecord) -> ComparisonSummaryPublic:
    return comparison_summary(record)


@router.post("", status_code=201, dependencies=[WriteAccess], summary="Submit a comparison")
def create_comparison(
    body: ComparisonCreate, storage: StorageDep, settings: SettingsDep, response: Response
) -> ComparisonPublic:
    """Queue ``replicates`` studies of each space, all or none. 422 names the field at fault or the limit."""
    if body.replicates <= settings.max_replicates:
        # Over the replicate limit, the tuner's error (naming BNN_TUNE_MAX_REPLICATES) says more.
        check_capacity(storage, settings, body.replicates * len(body.spaces), "replicates")
    record, _ = submit_comparison(storage, settings, body)
    response.headers["Location"] = f"/comparisons/{record.id}"
    return comparison_view(storage, record.id)


@router.get("", summary="List comparisons")
def list_comparisons(
    storage: StorageDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="page size")] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="items to skip")] = 0,
) -> ComparisonPage:
    """Comparisons, newest first, one page at a time."""
    items = storage.list_comparisons(limit=limit, offset=offset)
    return ComparisonPage(
        items=[_summary(r) for r in items], total=storage.count_comparisons(), limit=limit, offset=offset
    )


@router.get("/{comparison_id}", response_model=ComparisonPublic, summary="Read a comparison and its analysis")
async def get_comparison(comparison_id: ComparisonId, storage: StorageDep, cache: ViewsDep) -> Response:
    """The comparison's studies and progress, and (once a trial has completed) the Figure 8 analysis."""
    # A completed comparison is answered from memory without leaving the event loop; any other is computed
    # in a worker thread, as it queries the database.
    body = cache.cached_json(comparison_id)
    if body is None:
        body = await run_in_threadpool(cache.get_json, storage, comparison_id)
    return Response(content=body, media_type="application/json")


@router.post("/{comparison_id}/cancel", dependencies=[WriteAccess], summary="Cancel a comparison")
def cancel_comparison(comparison_id: ComparisonId, storage: StorageDep) -> ComparisonSummaryPublic:
    """Cancel every study of the comparison that has not finished; 409 if all of them have."""
    storage.cancel_comparison(comparison_id)
    return _summary(storage.get_comparison(comparison_id))
