"""The results web pages: an index of comparisons and studies, a page per comparison and per study.

Pages are rendered on the server (Jinja2, autoescaped) with their data inlined as JSON; plotly.js draws the
charts in the browser, so no front-end build is needed. While anything shown is still queued or running, the
page polls its ``/summary`` fragment (the tables with the charts' data) every few seconds and stops once
everything has finished. The same data is served as JSON at ``/ui/.../data`` for scripts.

:data:`router` carries the Figure 8 images (:mod:`api.routes.figures`) and the pages' static files
(:mod:`api.routes.static`) too, so that the application includes the pages, optional, with one router. An
unknown id answers 404 through :class:`~api.pages.PageRoute`: the not-found page on the HTML routes, a JSON
error on the data routes. The handlers read the storage from ``request.app.state.storage``, which the
application sets at start-up.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from api.deps import StorageDep
from api.pages import ComparisonPayload, PageRoute, StudyPayload, index_context, templates
from api.routes import figures, static

__all__ = ["router"]

router = APIRouter(route_class=PageRoute)


def _render(request: Request, template: str, payload: dict[str, Any]) -> HTMLResponse:
    # The page inlines the whole payload as ``data`` for its charts; its tables read the same keys at the top.
    return templates.TemplateResponse(request, template, {"data": payload, **payload})


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def index_page(request: Request, storage: StorageDep) -> HTMLResponse:
    """The index: comparisons and studies, newest first, with their state and progress."""
    return templates.TemplateResponse(request, "index.html", index_context(storage))


@router.get("/ui/summary", response_class=HTMLResponse, include_in_schema=False)
def index_summary(request: Request, storage: StorageDep) -> HTMLResponse:
    """The index's tables alone, which the index page polls while anything runs."""
    return templates.TemplateResponse(request, "_index_summary.html", index_context(storage))


@router.get("/ui/comparisons/{comparison_id}", response_class=HTMLResponse, include_in_schema=False)
def comparison_page(request: Request, payload: ComparisonPayload) -> HTMLResponse:
    """The results page of a comparison: progress, Figure 8, trials-to-target, curves, best parameters."""
    return _render(request, "comparison.html", payload)


@router.get("/ui/comparisons/{comparison_id}/summary", response_class=HTMLResponse, include_in_schema=False)
def comparison_summary(request: Request, payload: ComparisonPayload) -> HTMLResponse:
    """The comparison page's tables and chart data alone, which the page polls while the comparison runs."""
    return _render(request, "_comparison_summary.html", payload)


@router.get("/ui/comparisons/{comparison_id}/data", include_in_schema=False)
def comparison_data(payload: ComparisonPayload) -> JSONResponse:
    """The comparison page's data as JSON (see :func:`~api.pages.comparison_payload`); 404 for an unknown id."""
    return JSONResponse(payload)


@router.get("/ui/studies/{study_id}", response_class=HTMLResponse, include_in_schema=False)
def study_page(request: Request, payload: StudyPayload) -> HTMLResponse:
    """The results page of a study: progress, best-so-far, curves, best parameters and every trial."""
    return _render(request, "study.html", payload)


@router.get("/ui/studies/{study_id}/summary", response_class=HTMLResponse, include_in_schema=False)
def study_summary(request: Request, payload: StudyPayload) -> HTMLResponse:
    """The study page's tables and chart data alone, which the page polls while the study runs."""
    return _render(request, "_study_summary.html", payload)


@router.get("/ui/studies/{study_id}/data", include_in_schema=False)
def study_data(payload: StudyPayload) -> JSONResponse:
    """The study page's data as JSON (see :func:`~api.pages.study_payload`); 404 for an unknown id."""
    return JSONResponse(payload)


router.include_router(figures.router)
router.include_router(static.router)
