"""One answer to an unknown id on every page route: the not-found page for HTML, a 404 JSON error for the rest.

The pages' dependencies load what a page shows and raise :class:`~bnn_errors.NotFoundError` for an unknown id.
:class:`PageRoute`, the route class of the pages' routers, turns that error into the response: a route declared
with ``response_class=HTMLResponse`` answers the not-found page (HTML, 404) that a person reads in the browser;
the others (page data, figures) raise ``HTTPException(404)``, which the application's handler answers as JSON.

A route class rather than an application exception handler, so that the pages' router carries its own error
handling wherever it is included and the REST API keeps answering ``NotFoundError`` as it does.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.routing import APIRoute

from api.pages._templates import templates
from bnn_errors import NotFoundError

__all__ = ["PageRoute"]

_Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def _not_found_page(request: Request, error: NotFoundError) -> HTMLResponse:
    """The HTML page saying what was not found, with status 404."""
    return templates.TemplateResponse(request, "not_found.html", {"message": str(error)}, status_code=404)


class PageRoute(APIRoute):
    """A route whose unknown ids answer 404: the not-found page if it serves HTML, else a JSON error."""

    def get_route_handler(self) -> _Handler:
        """The route's handler, answering a :class:`~bnn_errors.NotFoundError` from it or its dependencies."""
        handler = super().get_route_handler()
        serves_html = self.response_class is HTMLResponse

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except NotFoundError as error:
                if serves_html:
                    return _not_found_page(request, error)
                raise HTTPException(status_code=404, detail=str(error)) from error

        return page_handler
