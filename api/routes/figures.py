"""The paper's Figure 8 of a comparison as an image: PNG or SVG, drawn from its stored trials on each request.

Part of the results pages (included with :data:`api.routes.pages.router`, since drawing needs matplotlib),
but documented in the OpenAPI schema with the comparisons. An unknown comparison answers 404 JSON through
:class:`~api.pages.PageRoute`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from api.pages import ComparisonViewJson, PageRoute
from tuner.analysis.figures import MEDIA_TYPES, FigureFormat, render

__all__ = ["router"]

router = APIRouter(route_class=PageRoute, tags=["comparisons"])

_FIGURE_RESPONSES: dict[int | str, dict[str, Any]] = {404: {"description": "No comparison has this id."}}


def _figure(view: dict[str, Any], fmt: FigureFormat) -> Response:
    comparison_id = view["id"]
    return Response(
        content=render(view, fmt),
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'inline; filename="comparison-{comparison_id}-figure8.{fmt}"'},
    )


@router.get(
    "/comparisons/{comparison_id}/figure.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "Figure 8 as PNG."}, **_FIGURE_RESPONSES},
)
def comparison_figure_png(view: ComparisonViewJson) -> Response:
    """The paper's Figure 8 for a comparison, drawn from its stored trials, as a PNG image."""
    return _figure(view, "png")


@router.get(
    "/comparisons/{comparison_id}/figure.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}, "description": "Figure 8 as SVG."}, **_FIGURE_RESPONSES},
)
def comparison_figure_svg(view: ComparisonViewJson) -> Response:
    """The paper's Figure 8 for a comparison, drawn from its stored trials, as an SVG image."""
    return _figure(view, "svg")
