"""The results web page: an index of comparisons and studies, a page per comparison and per study, Figure 8.

Pages are rendered on the server (Jinja2, autoescaped) with their data inlined as JSON; plotly.js, served
from the installed ``plotly`` package, draws the charts in the browser, so no front-end build is needed.
While anything shown is still queued or running, the page polls its ``/summary`` fragment (the tables with
the charts' data) every few seconds and stops once everything has finished. The same data is served as
JSON at ``/ui/.../data`` for scripts.

The handlers read the storage from ``request.app.state.storage``, which the application sets at start-up.
"""

from __future__ import annotations

import importlib.util
import math
import pathlib
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates

from api.schemas import MAX_ID
from bnn_errors import NotFoundError
from tuner.analysis.figures import MEDIA_TYPES, FigureFormat, objective_label, render, space_colors
from tuner.analysis.reports import comparison_view, objective_sequence, points_by_epoch, study_view
from tuner.storage import TERMINAL_STUDY_STATES, TERMINAL_TRIAL_STATES, CurvePoint, Storage, StudyRecord

__all__ = ["POLL_MILLISECONDS", "comparison_payload", "router", "study_payload"]

POLL_MILLISECONDS = 4000
INDEX_COMPARISONS = 20
INDEX_STUDIES = 50
_CURVE_METRICS = ("val_accuracy", "flip_ratio")

_API_DIR = pathlib.Path(__file__).resolve().parent.parent
_STATIC_DIR = _API_DIR / "static"
_STATIC_FILES = {"pages.js": "text/javascript", "pages.css": "text/css"}
_PLOTLY_JS = "plotly.min.js"


def _number(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{value:.{digits}g}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _when(value: datetime | str | None) -> str:
    if value is None:
        return "-"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _parameters(parameters: Mapping[str, Any] | None) -> str:
    if not parameters:
        return "-"
    return ", ".join(f"{name}={_number(value)}" for name, value in parameters.items())


templates = Jinja2Templates(directory=_API_DIR / "templates")
templates.env.filters["number"] = _number
templates.env.filters["percent"] = _percent
templates.env.filters["parameters"] = _parameters
templates.env.filters["when"] = _when
templates.env.globals["terminal_states"] = TERMINAL_STUDY_STATES
templates.env.globals["poll_milliseconds"] = POLL_MILLISECONDS

router = APIRouter()


def _storage(request: Request) -> Storage:
    storage = getattr(request.app.state, "storage", None)
    if not isinstance(storage, Storage):
        raise RuntimeError("the application has no storage: app.state.storage must be set at start-up")
    return storage


StorageDep = Annotated[Storage, Depends(_storage)]
ComparisonId = Annotated[int, Path(ge=1, le=MAX_ID, description="id of the comparison")]
StudyId = Annotated[int, Path(ge=1, le=MAX_ID, description="id of the study")]


# -- data -------------------------------------------------------------------------------------------------


_TrialKey = tuple[int, str | None, str | None]
_Curve = dict[str, list[Any]]


class _CurveCache:
    """Plot-ready curves of trials that have ended, per storage: they never change once a trial has ended.

    Points are written only while a trial runs, so a trial read as ended before its points are read has all of
    them. Keys hold the trial's start and end times too, so that a database emptied and refilled under the
    same storage (as tests do) cannot serve a stale curve. Least recently used entries go first.
    """

    def __init__(self, max_trials: int) -> None:
        self._max_trials = max_trials
        self._lock = threading.Lock()
        self._entries: weakref.WeakKeyDictionary[Storage, OrderedDict[_TrialKey, _Curve]] = weakref.WeakKeyDictionary()

    def get(self, storage: Storage, key: _TrialKey) -> _Curve | None:
        with self._lock:
            entries = self._entries.get(storage)
            if entries is None or key not in entries:
                return None
            entries.move_to_end(key)
            return entries[key]

    def put(self, storage: Storage, key: _TrialKey, curve: _Curve) -> None:
        with self._lock:
            entries = self._entries.setdefault(storage, OrderedDict())
            entries[key] = curve
            while len(entries) > self._max_trials:
                entries.popitem(last=False)


_CURVES = _CurveCache(max_trials=50_000)


def _curve(points: Iterable[CurvePoint]) -> _Curve:
    epochs = points_by_epoch(points)
    curve: _Curve = {"epoch": [point["epoch"] for point in epochs]}
    for metric in _CURVE_METRICS:
        curve[metric] = [point.get(metric) for point in epochs]
    return curve


def _trial_curves(storage: Storage, study: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A study's trials as plot-ready rows: the epochs and, per metric, its values (None where missing).

    ``study`` is a :func:`~tuner.analysis.reports.study_view` without points; ended trials come from the cache, a
    running trial is read on its own, and the study's curves are read in one query if an ended one is missing.
    """
    curves: dict[int, _Curve] = {}
    missing: list[tuple[int, _TrialKey]] = []
    for trial in study["trials"]:
        key: _TrialKey = (trial["id"], trial["started_at"], trial["finished_at"])
        if trial["state"] not in TERMINAL_TRIAL_STATES:
            curves[trial["id"]] = _curve(storage.curve(trial["id"]))
        elif (cached := _CURVES.get(storage, key)) is not None:
            curves[trial["id"]] = cached
        else:
            missing.append((trial["id"], key))
    if missing:
        stored = storage.curves(study["id"])
        for trial_id, key in missing:
            curves[trial_id] = _curve(stored.get(trial_id, []))
            _CURVES.put(storage, key, curves[trial_id])
    return [
        {
            "study_id": study["id"],
            "space": study["space"],
            "replicate": study["replicate"],
            "number": trial["number"],
            "state": trial["state"],
            "objective": trial["objective"],
            **curves[trial["id"]],
        }
        for trial in study["trials"]
    ]


def comparison_payload(storage: Storage, comparison_id: int) -> dict[str, Any]:
    """Everything the comparison page shows, JSON-ready: the comparison view, best parameters and curves.

    Raises:
        NotFoundError: no comparison has this id.
    """
    view = comparison_view(storage, comparison_id)
    studies = [study_view(storage, row["id"], with_points=False) for row in view["studies"]]
    settings = view.get("settings") or {}
    return {
        "comparison": view,
        "colors": space_colors(view["spaces"]),
        "objective_label": objective_label(str(settings.get("objective", "val_accuracy_last"))),
        "best": [
            {
                "study_id": study["id"],
                "space": study["space"],
                "replicate": study["replicate"],
                "state": study["state"],
                "best_objective": study["best_objective"],
                "best_parameters": study["best_parameters"],
            }
            for study in studies
        ],
        "curves": [row for study in studies for row in _trial_curves(storage, study)],
        "live": view["state"] not in TERMINAL_STUDY_STATES,
    }


def study_payload(storage: Storage, study_id: int) -> dict[str, Any]:
    """Everything the study page shows, JSON-ready: the study view (trials without points) and curves.

    Raises:
        NotFoundError: no study has this id.
    """
    view = study_view(storage, study_id, with_points=False)
    return {
        "study": view,
        "colors": space_colors([view["space"]]),
        "objective_label": objective_label(view["objective"]),
        "curves": _trial_curves(storage, view),
        "live": view["state"] not in TERMINAL_STUDY_STATES,
    }


def _index_context(storage: Storage) -> dict[str, Any]:
    """The newest comparisons and studies with their progress (trials counted, as in the JSON views)."""
    done: dict[int, int] = {}

    def trials_done(study: StudyRecord) -> int:
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
                "record": comparison,
                "trials_done": sum(trials_done(study) for study in studies),
                "trials_total": comparison.n_trials * len(studies),
            }
        )
    states = [c.state for c in comparison_records] + [s.state for s in study_records]
    return {
        "comparisons": comparisons,
        "comparisons_total": storage.count_comparisons(),
        "studies": [{"record": study, "trials_done": trials_done(study)} for study in study_records],
        "studies_total": storage.count_studies(),
        "live": any(state not in TERMINAL_STUDY_STATES for state in states),
    }


def _not_found_page(request: Request, error: NotFoundError) -> HTMLResponse:
    return templates.TemplateResponse(request, "not_found.html", {"message": str(error)}, status_code=404)


# -- pages ------------------------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def index_page(request: Request, storage: StorageDep) -> HTMLResponse:
    """The index: comparisons and studies, newest first, with their state and progress."""
    return templates.TemplateResponse(request, "index.html", _index_context(storage))


@router.get("/ui/summary", response_class=HTMLResponse, include_in_schema=False)
def index_summary(request: Request, storage: StorageDep) -> HTMLResponse:
    """The index's tables alone, which the index page polls while anything runs."""
    return templates.TemplateResponse(request, "_index_summary.html", _index_context(storage))


@router.get("/ui/comparisons/{comparison_id}", response_class=HTMLResponse, include_in_schema=False)
def comparison_page(request: Request, storage: StorageDep, comparison_id: ComparisonId) -> HTMLResponse:
    """The results page of a comparison: progress, Figure 8, trials-to-target, curves, best parameters."""
    try:
        payload = comparison_payload(storage, comparison_id)
    except NotFoundError as error:
        return _not_found_page(request, error)
    return templates.TemplateResponse(request, "comparison.html", {"data": payload, **payload})


@router.get("/ui/comparisons/{comparison_id}/summary", response_class=HTMLResponse, include_in_schema=False)
def comparison_summary(request: Request, storage: StorageDep, comparison_id: ComparisonId) -> HTMLResponse:
    """The comparison page's tables and chart data alone, which the page polls while the comparison runs."""
    try:
        payload = comparison_payload(storage, comparison_id)
    except NotFoundError as error:
        return _not_found_page(request, error)
    return templates.TemplateResponse(request, "_comparison_summary.html", {"data": payload, **payload})


@router.get("/ui/comparisons/{comparison_id}/data", include_in_schema=False)
def comparison_data(storage: StorageDep, comparison_id: ComparisonId) -> JSONResponse:
    """The comparison page's data as JSON (see :func:`comparison_payload`); 404 for an unknown id."""
    try:
        return JSONResponse(comparison_payload(storage, comparison_id))
    except NotFoundError as error:
        raise HTTPException(status_code=404, detail=str(error)) from error


@router.get("/ui/studies/{study_id}", response_class=HTMLResponse, include_in_schema=False)
def study_page(request: Request, storage: StorageDep, study_id: StudyId) -> HTMLResponse:
    """The results page of a study: progress, best-so-far, curves, best parameters and every trial."""
    try:
        payload = study_payload(storage, study_id)
    except NotFoundError as error:
        return _not_found_page(request, error)
    return templates.TemplateResponse(request, "study.html", {"data": payload, **payload})


@router.get("/ui/studies/{study_id}/summary", response_class=HTMLResponse, include_in_schema=False)
def study_summary(request: Request, storage: StorageDep, study_id: StudyId) -> HTMLResponse:
    """The study page's tables and chart data alone, which the page polls while the study runs."""
    try:
        payload = study_payload(storage, study_id)
    except NotFoundError as error:
        return _not_found_page(request, error)
    return templates.TemplateResponse(request, "_study_summary.html", {"data": payload, **payload})


@router.get("/ui/studies/{study_id}/data", include_in_schema=False)
def study_data(storage: StorageDep, study_id: StudyId) -> JSONResponse:
    """The study page's data as JSON (see :func:`study_payload`); 404 for an unknown id."""
    try:
        return JSONResponse(study_payload(storage, study_id))
    except NotFoundError as error:
        raise HTTPException(status_code=404, detail=str(error)) from error


# -- figures ----------------------------------------------------------------------------------------------


def _figure(storage: Storage, comparison_id: int, fmt: FigureFormat) -> Response:
    try:
        view = comparison_view(storage, comparison_id)
    except NotFoundError as error:
        raise HTTPException(status_code=404, detail=str(error)) from error
    return Response(
        content=render(view, fmt),
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'inline; filename="comparison-{comparison_id}-figure8.{fmt}"'},
    )


_FIGURE_RESPONSES: dict[int | str, dict[str, Any]] = {404: {"description": "No comparison has this id."}}


@router.get(
    "/comparisons/{comparison_id}/figure.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "Figure 8 as PNG."}, **_FIGURE_RESPONSES},
    tags=["comparisons"],
)
def comparison_figure_png(storage: StorageDep, comparison_id: ComparisonId) -> Response:
    """The paper's Figure 8 for a comparison, drawn from its stored trials, as a PNG image."""
    return _figure(storage, comparison_id, "png")


@router.get(
    "/comparisons/{comparison_id}/figure.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}, "description": "Figure 8 as SVG."}, **_FIGURE_RESPONSES},
    tags=["comparisons"],
)
def comparison_figure_svg(storage: StorageDep, comparison_id: ComparisonId) -> Response:
    """The paper's Figure 8 for a comparison, drawn from its stored trials, as an SVG image."""
    return _figure(storage, comparison_id, "svg")


# -- static files -----------------------------------------------------------------------------------------


@cache
def _plotly_js() -> pathlib.Path | None:
    """plotly.js as the ``plotly`` Python package ships it, or None if that package is not installed."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or spec.origin is None:
        return None
    path = pathlib.Path(spec.origin).parent / "package_data" / _PLOTLY_JS
    return path if path.is_file() else None


@router.get("/ui/static/{name}", include_in_schema=False)
def static_file(name: str) -> FileResponse:
    """The page's script and style sheet, and plotly.js from the installed ``plotly`` package.

    Only the named files are served, so no request can reach any other file.
    """
    if name == _PLOTLY_JS:
        path = _plotly_js()
        if path is None:
            raise HTTPException(status_code=404, detail="plotly.js is not available: install the plotly package")
        # 4.8 MB that changes only with the installed package: let the browser keep it a day.
        return FileResponse(path, media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"})
    if name not in _STATIC_FILES:
        raise HTTPException(status_code=404, detail=f"no static file {name!r}")
    # Our own files are small and change with the code: revalidated (ETag) on every load.
    return FileResponse(_STATIC_DIR / name, media_type=_STATIC_FILES[name], headers={"Cache-Control": "no-cache"})
