"""Request and response models of the REST API, apart from the tables (``XCreate`` in, ``XPublic`` out).

The request bodies are the tuner's configurations (``tuner.study.config``) and the responses its typed reports
(``tuner.analysis.reports``), so that a study option is defined once. Requests are strict: a string is not a number,
``3.0`` is not an integer, NaN and infinities are refused, unknown fields are refused, and every integer is bounded,
so that nothing a client sends can overflow a column. The limits that come from the settings (most trials,
replicates, epochs) are checked on submission.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from tuner.analysis.reports import (
    AnalysisReport,
    ComparisonReport,
    ComparisonStudyReport,
    ComparisonSummaryReport,
    EstimateReport,
    SpaceAnalysisReport,
    SpaceDifferenceReport,
    StudyDetailReport,
    StudyReport,
    TrialReport,
)
from tuner.study.config import ComparisonConfig, Name, Objective, StudyConfig
from tuner.study.early_stopping import EarlyStopping
from tuner.study.states import TrialState

__all__ = [
    "MAX_ID",
    "MAX_OFFSET",
    "MAX_PAGE",
    "AnalysisPublic",
    "ComparisonCreate",
    "ComparisonPage",
    "ComparisonPublic",
    "ComparisonStudyPublic",
    "ComparisonSummaryPublic",
    "CurvePublic",
    "EarlyStoppingCreate",
    "ErrorPublic",
    "EstimatePublic",
    "FieldErrorPublic",
    "HealthPublic",
    "Name",
    "Objective",
    "ParameterPublic",
    "ReadinessPublic",
    "SpaceAnalysisPublic",
    "SpaceDifferencePublic",
    "SpacePublic",
    "StudyCreate",
    "StudyDetailPublic",
    "StudyPage",
    "StudyPublic",
    "TrialPublic",
]

# Ids are 32-bit INTEGER columns on PostgreSQL; a larger id can match nothing, and would make the driver fail.
MAX_ID = 2**31 - 1
MAX_OFFSET = 2**31 - 1
# The storage's largest page.
MAX_PAGE = 1000

# The request bodies are the tuner's configurations: one definition of a study, its defaults and its checks.
StudyCreate = StudyConfig
ComparisonCreate = ComparisonConfig
EarlyStoppingCreate = EarlyStopping

# The responses are the tuner's typed reports.
StudyPublic = StudyReport
StudyDetailPublic = StudyDetailReport
TrialPublic = TrialReport
ComparisonStudyPublic = ComparisonStudyReport
ComparisonSummaryPublic = ComparisonSummaryReport
ComparisonPublic = ComparisonReport
AnalysisPublic = AnalysisReport
EstimatePublic = EstimateReport
SpaceAnalysisPublic = SpaceAnalysisReport
SpaceDifferencePublic = SpaceDifferenceReport


class StudyPage(BaseModel):
    """One page of studies, newest first, with how many match the filters in all."""

    items: list[StudyPublic]
    total: int
    limit: int
    offset: int


class CurvePublic(BaseModel):
    """One trial's learning curve: a dict per epoch (``epoch``, losses, accuracies, ``flip_ratio``...)."""

    study_id: int
    trial_id: int
    number: int
    state: TrialState
    points: list[dict[str, int | float]]


class ComparisonPage(BaseModel):
    """One page of comparisons, newest first."""

    items: list[ComparisonSummaryPublic]
    total: int
    limit: int
    offset: int


class ParameterPublic(BaseModel):
    """A tuned parameter: a range (``lower``, ``upper``, ``log_scale``) or a set of ``choices``."""

    name: str
    kind: Literal["range", "choice"]
    description: str
    lower: float | None = None
    upper: float | None = None
    log_scale: bool | None = None
    choices: list[str | bool | int | float] | None = None


class SpacePublic(BaseModel):
    """A registered search space: its optimizer, tuned parameters and the settings it holds fixed."""

    name: str
    optimizer: str
    description: str
    parameters: list[ParameterPublic]
    fixed: dict[str, Any]


class HealthPublic(BaseModel):
    """The process answers."""

    status: Literal["ok"]


class ReadinessPublic(BaseModel):
    """Whether the service can do its work: the database answers and, if it runs one, the scheduler too."""

    status: Literal["ready", "unavailable"]
    database: str
    scheduler: str
    executor: str | None


class FieldErrorPublic(BaseModel):
    """One problem with one field of a request."""

    field: str
    message: str


class ErrorPublic(BaseModel):
    """Every error response: what went wrong, the error class, and the field at fault where there is one."""

    detail: str
    type: str
    field: str | None = None
    errors: list[FieldErrorPublic] = Field(default_factory=list)
