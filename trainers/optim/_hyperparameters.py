"""Hyperparameters as validated data: the base of every optimizer's pydantic model, and its errors in our words."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel, ConfigDict, ValidationError

from bnn_errors import InvalidInputError

__all__ = ["Hyperparameters", "allowed_range", "parse_hyperparameters"]


class Hyperparameters(BaseModel):
    """The base of every BNN optimizer's hyperparameter model: one field per hyperparameter, with its range.

    Frozen, unknown names rejected (``extra="forbid"``), numbers only (strict: no strings, no booleans) and
    finite. A field's name is the optimizer's keyword argument and param-group key; every field has a
    ``description`` (the registry checks), and its bounds (``gt``, ``ge``, ``lt``, ``le``) are the allowed
    range that error messages quote.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)


H = TypeVar("H", bound=Hyperparameters)


def allowed_range(model: type[Hyperparameters], name: str) -> str:
    """The interval field ``name`` of ``model`` allows, as text: ``(0, 1]``, ``[0, inf)``."""
    low, high = "(-inf", "inf)"
    for bound in model.model_fields[name].metadata:
        if isinstance(bound, Gt):
            low = f"({bound.gt:g}"
        elif isinstance(bound, Ge):
            low = f"[{bound.ge:g}"
        elif isinstance(bound, Lt):
            high = f"{bound.lt:g})"
        elif isinstance(bound, Le):
            high = f"{bound.le:g}]"
    return f"{low}, {high}"


def parse_hyperparameters(model: type[H], values: Mapping[str, object], *, optimizer: str) -> H:
    """``values`` validated as ``model``, the hyperparameters of ``optimizer``.

    Raises:
        InvalidInputError: a missing or unknown name (the message lists the expected ones with their ranges), or
            a value that is not a finite number in its range (the message names it and the range).
    """
    try:
        return model.model_validate(dict(values))
    except ValidationError as exc:
        raise InvalidInputError(_message(model, exc, optimizer)) from None


def _message(model: type[Hyperparameters], exc: ValidationError, optimizer: str) -> str:
    errors = exc.errors()
    missing = sorted(str(e["loc"][0]) for e in errors if e["type"] == "missing")
    unknown = sorted(str(e["loc"][0]) for e in errors if e["type"] == "extra_forbidden")
    if missing or unknown:
        problems = [
            f"{kind} {', '.join(names)}" for kind, names in (("missing", missing), ("unknown", unknown)) if names
        ]
        return f"hyperparameters for {optimizer!r}: {'; '.join(problems)} (expected {_expected(model)})"
    first = errors[0]
    name = str(first["loc"][0])
    return f"{name} must be in {allowed_range(model, name)}, got {first['input']!r}"


def _expected(model: type[Hyperparameters]) -> str:
    fields = [
        f"{name} in {allowed_range(model, name)}{'' if info.is_required() else ' (optional)'}"
        for name, info in model.model_fields.items()
    ]
    return ", ".join(fields) or "none"
