"""Request and response models of the REST API, apart from the tables (``XCreate`` in, ``XPublic`` out).

Request models are strict: a string is not a number, ``3.0`` is not an integer, NaN and infinities are
refused, unknown fields are refused, and every integer is bounded, so that nothing a client sends can overflow
a column. The limits that come from the settings (most trials, replicates, epochs) are checked on submission.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from tuner.storage import StudyState, TrialState
from tuner.study.submit import MAX_SEED, StudyRequest

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
_MAX_COUNT = 1_000_000

Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")]
"""A task or search-space name: letters, digits, ``_ . -``, at most 64 characters."""

Objective = Literal["val_accuracy_last", "val_accuracy_best"]

_STRICT = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)


class EarlyStoppingCreate(BaseModel):
    """Optional early stopping of weak trials on their learning curves (off unless given)."""

    model_config = _STRICT

    rule: Literal["median", "percentile"]
    percentile: float | None = Field(default=None, gt=0, lt=100, description="only with the percentile rule")
    min_epochs: int | None = Field(default=None, ge=1, le=10_000)
    min_trials: int | None = Field(default=None, ge=1, le=10_000)


class _WorkCreate(BaseModel):
    """The fields a study and a comparison share."""

    model_config = _STRICT

    task: Name = Field(description="audio, cifar10 or imagenet")
    n_trials: int = Field(ge=1, le=_MAX_COUNT, description="trials per study (up to the configured limit)")
    epochs: int = Field(ge=1, le=_MAX_COUNT, description="epochs per trial (up to the configured limit)")
    seed: int = Field(default=0, ge=0, le=MAX_SEED)
    parallelism: int = Field(default=1, ge=1, le=_MAX_COUNT, description="trials in flight per study")
    batch_size: int = Field(default=64, ge=1, le=65_536)
    objective: Objective = "val_accuracy_last"
    max_train: int | None = Field(default=None, ge=1, le=10_000_000, description="cap on training examples")
    early_stopping: EarlyStoppingCreate | None = None

    def to_request(self, space: str) -> StudyRequest:
        """The tuner's request for one study of ``space``."""
        rule = None if self.early_stopping is None else self.early_stopping.model_dump(exclude_none=True)
        return StudyRequest(
            task=self.task,
            space=space,
            n_trials=self.n_trials,
            epochs=self.epochs,
            seed=self.seed,
            parallelism=self.parallelism,
            batch_size=self.batch_size,
            objective=self.objective,
            max_train=self.max_train,
            early_stopping=rule,
        )


class StudyCreate(_WorkCreate):
    """A new study: Bayesian optimization of one search space on one task."""

    space: Name = Field(description="a registered search space: latent, filter, bop, ...")


class ComparisonCreate(_WorkCreate):
    """A new comparison: ``replicates`` studies per space; replicate r of every space has the same seed."""

    spaces: list[Name] = Field(min_length=1, max_length=16)
    replicates: int = Field(ge=1, le=_MAX_COUNT, description="studies per space (up to the configured limit)")


# -- responses ----------------------------------------------------------------------------------------------


class StudyPublic(BaseModel):
    """A stored study, without its trials."""

    id: int
    comparison_id: int | None
    replicate: int | None
    task: str
    space: str
    objective: str
    n_trials: int
    parallelism: int
    epochs: int
    batch_size: int
    max_train: int | None
    seed: int
    early_stopping: dict[str, Any] | None
    state: StudyState
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class StudyPage(BaseModel):
    """One page of studies, newest first, with how many match the filters in all."""

    items: list[StudyPublic]
    total: int
    limit: int
    offset: int


class TrialPublic(BaseModel):
    """A trial: one parameterization of a study; ``points`` only where asked for."""

    id: int
    number: int
    state: TrialState
    parameters: dict[str, Any]
    objective: float | None
    error: str | None
    attempts: int
    worker_host: str | None
    node_id: str | None
    started_at: datetime
    finished_at: datetime | None
    points: list[dict[str, int | float]] | None = None


class StudyDetailPublic(StudyPublic):
    """A study with its progress, best trial so far, best-so-far curve and trials (without their curves)."""

    trials_done: int
    best_objective: float | None
    best_parameters: dict[str, Any] | None
    best_so_far: list[float | None]
    trials: list[TrialPublic]


class CurvePublic(BaseModel):
    """One trial's learning curve: a dict per epoch (``epoch``, losses, accuracies, ``flip_ratio``...)."""

    study_id: int
    trial_id: int
    number: int
    state: TrialState
    points: list[dict[str, int | float]]


class EstimatePublic(BaseModel):
    """A mean over replicates with its bootstrap interval (null where there is nothing to average)."""

    model_config = ConfigDict(extra="allow")

    mean: float | None
    lo: float | None
    hi: float | None
    n: int


class SpaceAnalysisPublic(BaseModel):
    """Figure 8 for one space: mean best-so-far with its CI per trial index, and trials-to-target."""

    model_config = ConfigDict(extra="allow")

    name: str
    n_replicates: int
    n_trials: list[int]
    best_so_far_mean: list[float | None]
    best_so_far_lo: list[float | None]
    best_so_far_hi: list[float | None]
    best_so_far_n: list[int]
    final_best: EstimatePublic
    trials_to_target: list[int | None]
    trials_to_target_mean: EstimatePublic
    n_reached: int


class SpaceDifferencePublic(BaseModel):
    """Mean trials-to-target of ``space_a`` minus ``space_b``, with its bootstrap interval."""

    model_config = ConfigDict(extra="allow")

    space_a: str
    space_b: str
    mean: float | None
    lo: float | None
    hi: float | None
    fraction_positive: float | None


class AnalysisPublic(BaseModel):
    """The analysis of a comparison (see ``tuner.analysis.compare_spaces``)."""

    model_config = ConfigDict(extra="allow")

    best_objective: float
    tolerance: float
    target: float
    confidence: float
    n_boot: int
    spaces: list[SpaceAnalysisPublic]
    difference: SpaceDifferencePublic | None


class ComparisonStudyPublic(BaseModel):
    """One study of a comparison, with its progress and best-so-far curve."""

    id: int
    space: str
    replicate: int | None
    state: StudyState
    trials_done: int
    n_trials: int
    best_so_far: list[float | None]


class ComparisonSummaryPublic(BaseModel):
    """A stored comparison, without its studies and analysis."""

    id: int
    task: str
    spaces: list[str]
    replicates: int
    n_trials: int
    epochs: int
    seed: int
    settings: dict[str, Any]
    state: StudyState
    created_at: datetime


class ComparisonPublic(ComparisonSummaryPublic):
    """A comparison with its studies' progress and, once a trial has completed, its analysis."""

    trials_done: int
    trials_total: int
    studies: list[ComparisonStudyPublic]
    analysis: AnalysisPublic | None


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
