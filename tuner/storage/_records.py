"""What the storage takes and gives: specs for new rows, and frozen records read back (not ORM objects)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

from bnn_errors import InvalidInputError

__all__ = [
    "STUDY_STATES",
    "TERMINAL_STUDY_STATES",
    "TERMINAL_TRIAL_STATES",
    "TRIAL_STATES",
    "ComparisonRecord",
    "ComparisonSpec",
    "CurvePoint",
    "StudyRecord",
    "StudySpec",
    "StudyState",
    "TrialRecord",
    "TrialState",
]

StudyState = Literal["queued", "running", "completed", "failed", "cancelled"]
TrialState = Literal["running", "completed", "failed", "abandoned", "early_stopped"]

STUDY_STATES: tuple[StudyState, ...] = get_args(StudyState)
TRIAL_STATES: tuple[TrialState, ...] = get_args(TrialState)
TERMINAL_STUDY_STATES: frozenset[StudyState] = frozenset({"completed", "failed", "cancelled"})
TERMINAL_TRIAL_STATES: frozenset[TrialState] = frozenset({"completed", "failed", "abandoned", "early_stopped"})


def _require_positive(owner: str, **values: int | None) -> None:
    for name, value in values.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise InvalidInputError(f"{owner}: {name} must be a positive integer, got {value!r}")


@dataclass(frozen=True)
class StudySpec:
    """What a new study asks for: one search space tuned on one task with a budget of ``n_trials``.

    ``replicate`` numbers the study within a comparison (``None`` for a study on its own).
    Raises ``InvalidInputError`` for a non-positive count or an empty name.
    """

    task: str
    space: str
    n_trials: int
    epochs: int
    seed: int
    parallelism: int = 1
    batch_size: int = 128
    objective: str = "val_accuracy_last"
    max_train: int | None = None
    early_stopping: dict[str, Any] | None = None
    replicate: int | None = None

    def __post_init__(self) -> None:
        for name in ("task", "space", "objective"):
            if not getattr(self, name):
                raise InvalidInputError(f"study: {name} must not be empty")
        _require_positive(
            "study",
            n_trials=self.n_trials,
            epochs=self.epochs,
            parallelism=self.parallelism,
            batch_size=self.batch_size,
            max_train=self.max_train,
        )
        if self.replicate is not None and self.replicate < 0:
            raise InvalidInputError(f"study: replicate must be >= 0, got {self.replicate}")


@dataclass(frozen=True)
class ComparisonSpec:
    """What a new comparison asks for: ``replicates`` studies of each space in ``spaces`` on one task.

    ``settings`` keeps whatever else the comparison was created with (parallelism, batch size...), as JSON.
    Raises ``InvalidInputError`` for no spaces, a repeated space, or a non-positive count.
    """

    task: str
    spaces: tuple[str, ...]
    replicates: int
    n_trials: int
    epochs: int
    seed: int
    settings: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.task:
            raise InvalidInputError("comparison: task must not be empty")
        if not self.spaces or len(set(self.spaces)) != len(self.spaces):
            raise InvalidInputError(f"comparison: spaces must be distinct and not empty, got {self.spaces!r}")
        _require_positive("comparison", replicates=self.replicates, n_trials=self.n_trials, epochs=self.epochs)


@dataclass(frozen=True)
class StudyRecord:
    """A stored study. Timestamps are timezone-aware UTC; ``started_at`` and ``finished_at`` may be unset."""

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

    @property
    def is_finished(self) -> bool:
        """Whether the study has reached a state it cannot leave."""
        return self.state in TERMINAL_STUDY_STATES


@dataclass(frozen=True)
class ComparisonRecord:
    """A stored comparison; its ``state`` summarises its studies' states."""

    id: int
    task: str
    spaces: tuple[str, ...]
    replicates: int
    n_trials: int
    epochs: int
    seed: int
    settings: dict[str, Any]
    state: StudyState
    created_at: datetime


@dataclass(frozen=True)
class TrialRecord:
    """A stored trial: one parameterization of a study, trained once or, after worker failures, again.

    ``attempts`` counts the runs started (1 on creation); ``objective`` is set once the trial completes.
    """

    id: int
    study_id: int
    number: int
    parameters: dict[str, Any]
    state: TrialState
    objective: float | None
    error: str | None
    attempts: int
    worker_host: str | None
    node_id: str | None
    started_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class CurvePoint:
    """One value of one metric at the end of one epoch of a trial."""

    trial_id: int
    epoch: int
    metric: str
    value: float
