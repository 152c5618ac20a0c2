"""How errors become responses: one handler maps the project's exception tree to status codes.

::

    NotFoundError            404   fix the id
    ConflictError            409   the object's state forbids it
    InvalidInputError        422   fix the request (the body names the field)
    RetryableError           503   try again later (Retry-After)
    GiveUpError, others      500

Request validation errors (wrong types, NaN, out-of-range numbers, malformed JSON) are 422 naming each field,
and never echo the value sent. Every error body has the shape of :class:`~api.schemas.ErrorPublic`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.schemas import ErrorPublic, FieldErrorPublic
from bnn_errors import BnnTuneError, ConflictError, InvalidInputError, NotFoundError, RetryableError

__all__ = ["ERROR_RESPONSES", "install_error_handlers", "status_for"]

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5

# Most specific first: NotFoundError and ConflictError are InvalidInputErrors too.
_STATUS: tuple[tuple[type[BnnTuneError], int], ...] = (
    (NotFoundError, 404),
    (ConflictError, 409),
    (InvalidInputError, 422),
    (RetryableError, 503),
)

# What the OpenAPI schema documents for every operation besides its success response.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorPublic, "description": text}
    for status, text in (
        (401, "the API token is missing or wrong"),
        (404, "no object has that id"),
        (409, "the object's state forbids the request"),
        (422, "the request is invalid; the body names the field"),
        (503, "the database is unavailable; try again later"),
    )
}


def status_for(error: BnnTuneError) -> int:
    """The HTTP status code of one of our exceptions."""
    for kind, status in _STATUS:
        if isinstance(error, kind):
            return status
    return 500


def _response(status: int, body: ErrorPublic, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body.model_dump(), status_code=status, headers=dict(headers or {}))


async def _bnn_tune_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, BnnTuneError)
    status = status_for(error)
    if status >= 500:
        log.error("request failed: %s: %s", type(error).__name__, error)
    field = error.field if isinstance(error, InvalidInputError) else None
    body = ErrorPublic(
        detail=str(error),
        type=type(error).__name__,
        field=field,
        errors=[FieldErrorPublic(field=field, message=str(error))] if field else [],
    )
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 503 else None
    return _response(status, body, headers)


_REQUEST_PARTS = frozenset({"body", "query", "path", "header", "cookie"})


def _field_name(location: tuple[int | str, ...]) -> str:
    parts = list(location)
    if parts and parts[0] in _REQUEST_PARTS and len(parts) > 1:
        parts = parts[1:]
    return ".".join(str(part) for part in parts) or "body"


async def _validation_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems: list[FieldErrorPublic] = []
    for detail in error.errors():
        field = _field_name(tuple(detail.get("loc", ())))
        message = str(detail.get("msg", "invalid"))
        if detail.get("type") == "json_invalid":
            field, message = "body", f"malformed JSON: {message}"
        problems.append(FieldErrorPublic(field=field, message=message))
    if not problems:
        problems.append(FieldErrorPublic(field="body", message="invalid request"))
    body = ErrorPublic(
        detail="; ".join(f"{p.field}: {p.message}" for p in problems),
        type="RequestValidationError",
        field=problems[0].field,
        errors=problems,
    )
    return _response(422, body)


async def _http_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    body = ErrorPublic(detail=str(error.detail), type="HTTPError")
    return _response(error.status_code, body, error.headers)


def install_error_handlers(app: FastAPI) -> None:
    """Make ``app`` answer our exceptions, validation and HTTP errors with :class:`ErrorPublic` bodies."""
    app.add_exception_handler(BnnTuneError, _bnn_tune_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
