"""``/studies``: submit a study, list and read studies, their trials and learning curves, cancel one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from api.deps import ReadAccess, SettingsDep, StorageDep, WriteAccess
from api.schemas import (
    MAX_ID,
    MAX_OFFSET,
    MAX_PAGE,
    CurvePublic,
    Name,
    StudyCreate,
    StudyDetailPublic,
    StudyPage,
    StudyPublic,
    TrialPublic,
)
from bnn_errors import InvalidInputError, NotFoundError
from tuner.analysis.reports import points_by_epoch, study_report, study_view, trial_view
from tuner.settings import Settings
from tuner.storage import Storage, StudyRecord, StudyState
from tuner.study.submit import submit_study

__all__ = ["StudyId", "check_capacity", "router", "study_public"]

router = APIRouter(prefix="/studies", tags=["studies"], dependencies=[ReadAccess])

StudyId = Annotated[int, Path(ge=1, le=MAX_ID, description="the study's id")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="page size")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="items to skip")]


def check_capacity(storage: Storage, settings: Settings, new_studies: int, field: str | None) -> None:
    """Refuse work that would put over ``max_concurrent_studies`` studies in the queued or running states.

    The check is not atomic with the write that follows: two submissions at the same instant may overshoot the
    limit by one request's worth, which the scheduler absorbs by keeping the excess queued.
    """
    unfinished = storage.count_studies(state=StudyState.QUEUED) + storage.count_studies(state=StudyState.RUNNING)
    limit = settings.max_concurrent_studies
    if unfinished + new_studies > limit:
        message = (
            f"the request adds {new_studies} studies to the {unfinished} queued or running, over the "
            f"limit max_concurrent_studies = {limit} (set by BNN_TUNE_MAX_CONCURRENT_STUDIES); "
            "wait for some to finish"
        )
        raise InvalidInputError(f"{field}: {message}" if field else message, field=field)


def study_public(record: StudyRecord) -> StudyPublic:
    """The response model of a stored study."""
    return study_report(record)


@router.post("", status_code=201, dependencies=[WriteAccess], summary="Submit a study")
def create_study(body: StudyCreate, storage: StorageDep, settings: SettingsDep, out: Response) -> StudyPublic:
    """Queue a study; the scheduler runs its trials. 422 names the field at fault or the limit exceeded."""
    check_capacity(storage, settings, 1, None)
    record = submit_study(storage, settings, body)
    out.headers["Location"] = f"/studies/{record.id}"
    return study_public(record)


@router.get("", summary="List studies")
def list_studies(
    storage: StorageDep,
    state: StudyState | None = None,
    space: Name | None = None,
    task: Name | None = None,
    comparison_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> StudyPage:
    """Studies matching every filter given, newest first, one page at a time."""
    items = storage.list_studies(
        state=state, space=space, task=task, comparison_id=comparison_id, limit=limit, offset=offset
    )
    total = storage.count_studies(state=state, space=space, task=task, comparison_id=comparison_id)
    return StudyPage(items=[study_public(r) for r in items], total=total, limit=limit, offset=offset)


@router.get("/{study_id}", summary="Read a study")
def get_study(study_id: StudyId, storage: StorageDep) -> StudyDetailPublic:
    """A study with its progress, best parameters so far and its trials (their curves: see ``/curve``)."""
    return study_view(storage, study_id, with_points=False)


@router.get("/{study_id}/trials", summary="List a study's trials")
def list_trials(
    study_id: StudyId,
    storage: StorageDep,
    points: Annotated[bool, Query(description="include each trial's learning curve")] = False,
) -> list[TrialPublic]:
    """The trials of a study by number, with their learning curves if ``points`` is true."""
    trials = storage.trials(study_id)
    curves = storage.curves(study_id) if points else {}
    return [trial_view(t, curves.get(t.id, []) if points else None) for t in trials]


@router.get("/{study_id}/trials/{number}/curve", summary="Read a trial's learning curve")
def get_curve(
    study_id: StudyId,
    number: Annotated[int, Path(ge=0, le=MAX_ID, description="the trial's number within its study")],
    storage: StorageDep,
) -> CurvePublic:
    """Loss, accuracies, flip ratio and seconds per epoch of trial ``number`` of the study."""
    trial = next((t for t in storage.trials(study_id) if t.number == number), None)
    if trial is None:
        raise NotFoundError(f"study {study_id} has no trial number {number}")
    return CurvePublic(
        study_id=study_id,
        trial_id=trial.id,
        number=trial.number,
        state=trial.state,
        points=points_by_epoch(storage.curve(trial.id)),
    )


@router.post("/{study_id}/cancel", dependencies=[WriteAccess], summary="Cancel a study")
def cancel_study(study_id: StudyId, storage: StorageDep) -> StudyPublic:
    """Cancel a queued or running study; its trials in flight are abandoned. 409 if it has finished."""
    return study_public(storage.set_study_state(study_id, StudyState.CANCELLED))
