"""The results pages' data and rendering: payloads from the reports, Jinja2 templates, the not-found handling.

The routes live in :mod:`api.routes.pages` (pages and their data), :mod:`api.routes.figures` (Figure 8 as PNG
and SVG) and :mod:`api.routes.static` (script, style sheet, plotly.js); everything they share is here.
"""

from api.pages._deps import ComparisonId, ComparisonPayload, ComparisonViewJson, StudyId, StudyPayload
from api.pages._payloads import comparison_payload, index_context, study_payload
from api.pages._routing import PageRoute
from api.pages._templates import POLL_MILLISECONDS, templates

__all__ = [
    "ComparisonId",
    "ComparisonPayload",
    "ComparisonViewJson",
    "POLL_MILLISECONDS",
    "PageRoute",
    "StudyId",
    "StudyPayload",
    "comparison_payload",
    "index_context",
    "study_payload",
    "templates",
]
