"""Storage rules that need no database: legal state moves, a comparison's summary state, argument checks."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Literal

from bnn_errors import ConflictError, InvalidInputError
from tuner.storage._records import TERMINAL_STUDY_STATES, TERMINAL_TRIAL_STATES
from tuner.study.states import StudyState

__all__ = [
    "MAX_PAGE",
    "check_page",
    "check_points",
    "check_state",
    "check_study_move",
    "check_trial_end",
    "summary_state",
]

MAX_PAGE = 1000

# Which study states may follow which. Running -> queued lets a restarted scheduler hand a study back.
_STUDY_MOVES: Mapping[str, frozenset[str]] = {
    "queued": frozenset({"running", "failed", "cancelled"}),
    "running": frozenset({"queued", "completed", "failed", "cancelled"}),
    "completed": frozenset(),
    "failed": frozenset(),
    "cancelled": frozenset(),
}


def check_study_move(study_id: int, current: str, target: str) -> None:
    """Raise ``ConflictError`` unless a study may go from ``current`` to ``target``."""
    if target not in _STUDY_MOVES[current]:
        raise ConflictError(f"study {study_id} is {current} and cannot become {target}")


def summary_state(states: set[str]) -> StudyState:
    """A comparison's state from its studies': finished only when all are, failed if any failed."""
    if states <= TERMINAL_STUDY_STATES:
        if states == {StudyState.COMPLETED}:
            return StudyState.COMPLETED
        return StudyState.FAILED if StudyState.FAILED in states else StudyState.CANCELLED
    return StudyState.QUEUED if states == {StudyState.QUEUED} else StudyState.RUNNING


def check_page(limit: int, offset: int) -> None:
    """Raise ``InvalidInputError`` unless 1 <= limit <= MAX_PAGE and offset >= 0."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInputError(f"limit must be in [1, {MAX_PAGE}], got {limit}")
    if offset < 0:
        raise InvalidInputError(f"offset must be >= 0, got {offset}")


def check_state(state: str, allowed: Sequence[str], kind: Literal["study", "trial"]) -> None:
    """Raise ``InvalidInputError`` unless ``state`` is one of ``allowed``."""
    if state not in allowed:
        raise InvalidInputError(f"unknown {kind} state {state!r}; one of {list(allowed)}")


def check_trial_end(trial_id: int, state: str, objective: float | None, objective_sem: float | None = None) -> None:
    """Raise ``InvalidInputError`` unless ``state`` ends a trial and ``objective`` (and its SEM) suit it."""
    if state not in TERMINAL_TRIAL_STATES:
        raise InvalidInputError(f"a trial ends in one of {sorted(TERMINAL_TRIAL_STATES)}, not {state!r}")
    if objective is not None and not math.isfinite(objective):
        raise InvalidInputError(f"trial {trial_id}: the objective must be finite, got {objective}")
    if state == "completed" and objective is None:
        raise InvalidInputError(f"trial {trial_id}: a completed trial needs an objective")
    if objective_sem is not None and (objective is None or not math.isfinite(objective_sem) or objective_sem < 0):
        raise InvalidInputError(f"trial {trial_id}: objective_sem must be a finite number >= 0 with an objective")


def check_points(trial_id: int, epoch: int, values: Mapping[str, float], member: int = 0) -> None:
    """Raise ``InvalidInputError`` for a negative epoch or member, an unnamed metric or a value that is not finite."""
    if member < 0:
        raise InvalidInputError(f"trial {trial_id}: members start at 0, got {member}")
    if epoch < 0:
        raise InvalidInputError(f"trial {trial_id}: epochs start at 0, got {epoch}")
    for metric, value in values.items():
        if not metric:
            raise InvalidInputError(f"trial {trial_id}, epoch {epoch}: a metric needs a name")
        if not math.isfinite(value):
            raise InvalidInputError(f"trial {trial_id}, epoch {epoch}: {metric} is {value}, not finite")
