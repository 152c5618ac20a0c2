"""The states a study and a trial go through, as enums (stored as their string values)."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["COUNTED_TRIAL_STATES", "StudyState", "TrialState"]


class StudyState(StrEnum):
    """Where a study (or, summarised over its studies, a comparison) stands."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """Whether a study in this state can never leave it."""
        return self in (StudyState.COMPLETED, StudyState.FAILED, StudyState.CANCELLED)


class TrialState(StrEnum):
    """How a trial stands: running, or how it ended."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    ABANDONED = "abandoned"
    EARLY_STOPPED = "early_stopped"

    @property
    def is_terminal(self) -> bool:
        """Whether the trial has ended."""
        return self is not TrialState.RUNNING

    @property
    def has_objective(self) -> bool:
        """Whether a trial that ended so has an objective value (completed, or stopped early on its curve)."""
        return self in (TrialState.COMPLETED, TrialState.EARLY_STOPPED)


# A trial counts towards its study's budget once it has ended in one of these states (an abandoned one is replaced).
COUNTED_TRIAL_STATES = frozenset({TrialState.COMPLETED, TrialState.FAILED, TrialState.EARLY_STOPPED})
