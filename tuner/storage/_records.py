"""What the storage gives back: frozen records (not ORM objects); a study's and a comparison's configuration inside."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tuner.study.config import ComparisonConfig, StudyConfig
from tuner.study.states import StudyState, TrialState

__all__ = [
    "STUDY_STATES",
    "TERMINAL_STUDY_STATES",
    "TERMINAL_TRIAL_STATES",
    "TRIAL_STATES",
    "ComparisonRecord",
    "CurvePoint",
    "StudyRecord",
    "TrialRecord",
]

STUDY_STATES: tuple[str, ...] = tuple(StudyState)
TRIAL_STATES: tuple[str, ...] = tuple(TrialState)
TERMINAL_STUDY_STATES: frozenset[str] = frozenset(state for state in StudyState if state.is_terminal)
TERMINAL_TRIAL_STATES: frozenset[str] = frozenset(state for state in TrialState if state.is_terminal)


@dataclass(frozen=True)
class StudyRecord:
    """A stored study: what it asked for (``config``) and where it stands.

    ``replicate`` numbers the study within its comparison (``None`` for a study on its own). Timestamps are
    timezone-aware UTC; ``started_at`` and ``finished_at`` may be unset.
    """

    id: int
    comparison_id: int | None
    replicate: int | None
    config: StudyConfig
    state: StudyState
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def is_finished(self) -> bool:
        """Whether the study has reached a state it cannot leave."""
        return self.state.is_terminal


@dataclass(frozen=True)
class ComparisonRecord:
    """A stored comparison; its ``state`` summarises its studies' states."""

    id: int
    config: ComparisonConfig
    state: StudyState
    created_at: datetime


@dataclass(frozen=True)
class TrialRecord:
    """A stored trial: one parameterization of a study, trained once or, after worker failures, again.

    ``attempts`` counts the runs started (1 on creation); ``objective`` is set once the trial completes, with its
    standard error ``objective_sem`` where the trial had several members (folds x repeats).
    """

    id: int
    study_id: int
    number: int
    parameters: dict[str, Any]
    state: TrialState
    objective: float | None
    objective_sem: float | None
    error: str | None
    attempts: int
    worker_host: str | None
    node_id: str | None
    started_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class CurvePoint:
    """One value of one metric at the end of one epoch of one member of a trial (member 0 of a one-member trial)."""

    trial_id: int
    epoch: int
    metric: str
    value: float
    member: int = 0
