"""Pydantic's validation errors as the project's ``InvalidInputError``, with the field taken from ``loc``."""

from __future__ import annotations

from pydantic import ValidationError

from bnn_errors import InvalidInputError

__all__ = ["invalid_input"]


def invalid_input(error: ValidationError, prefix: str = "") -> InvalidInputError:
    """The first problem of ``error`` as an ``InvalidInputError`` whose ``field`` is the problem's ``loc``.

    ``prefix`` (e.g. ``"early_stopping."``) places a nested model's fields inside the request that holds it.
    """
    problem = error.errors()[0]
    location = ".".join(str(part) for part in problem["loc"])
    field = (prefix + location) if location else (prefix.rstrip(".") or None)
    message = str(problem["msg"]).removeprefix("Value error, ")
    return InvalidInputError(f"{field}: {message}" if field else message, field=field)
