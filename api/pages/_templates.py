"""The pages' Jinja2 environment: the templates folder, autoescaped, and the filters that format numbers and times.

The filters turn the values of the reports into what a table cell shows: ``-`` for a missing value, four
significant digits, percentages with one decimal, times in UTC.
"""

from __future__ import annotations

import math
import pathlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from fastapi.templating import Jinja2Templates

__all__ = ["POLL_MILLISECONDS", "templates"]

# How often a page with something still queued or running fetches its summary again.
POLL_MILLISECONDS = 4000

_TEMPLATES_DIR = pathlib.Path(__file__).resolve().parent.parent / "templates"


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


templates = Jinja2Templates(directory=_TEMPLATES_DIR)
templates.env.filters["number"] = _number
templates.env.filters["percent"] = _percent
templates.env.filters["parameters"] = _parameters
templates.env.filters["when"] = _when
templates.env.globals["poll_milliseconds"] = POLL_MILLISECONDS
