"""``/healthz`` (the process answers) and ``/readyz`` (the database and, if it runs, the scheduler work)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api.deps import StorageDep
from api.schemas import HealthPublic, ReadinessPublic
from bnn_errors import BnnTuneError

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness")
async def healthz() -> HealthPublic:
    """Always ``ok`` while the process serves requests."""
    return HealthPublic(status="ok")


@router.get("/readyz", summary="Readiness", responses={503: {"model": ReadinessPublic}})
def readyz(request: Request, storage: StorageDep, response: Response) -> ReadinessPublic:
    """``ready`` if the database answers and the scheduler (with its executor: Ray or inline) runs; else 503.

    ``scheduler`` is ``off`` when this process runs none (``serve --no-scheduler``), and then says nothing of
    Ray: the scheduler process, which holds the Ray connection, is checked on its own.
    """
    try:
        storage.ping()
        database = "ok"
    except BnnTuneError as error:
        database = f"unavailable: {error}"
    service = request.app.state.scheduler
    scheduler = "off" if service is None else service.health()
    executor = None if service is None else service.executor_kind
    ready = database == "ok" and scheduler in ("off", "ok")
    if not ready:
        response.status_code = 503
    return ReadinessPublic(
        status="ready" if ready else "unavailable", database=database, scheduler=scheduler, executor=executor
    )
