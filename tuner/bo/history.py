"""A study's trials as the suggestion paths see them, and the bookkeeping both adapters share.

:class:`HistoryTrial` is one stored trial to replay; :class:`TrialBook` records which trials run, how they ended
and what they found, and refuses what cannot happen (completing a trial twice, a non-finite objective). The Ax
adapter and the lean adapter add how a next point is found.
"""

from __future__ import annotations

import math
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from bnn_errors import ConflictError, InvalidInputError, NotFoundError
from search_spaces import SearchSpace
from tuner.study.states import TrialState

__all__ = [
    "HistoryState",
    "HistoryTrial",
    "TrialBook",
    "check_finite",
    "check_history_numbers",
    "check_sem",
    "curve_values",
    "validated",
]

HistoryState = TrialState
"""The state of a stored trial, as a rebuilt adapter reads it."""

_HISTORY_STATES: frozenset[str] = frozenset(TrialState)


@dataclass(frozen=True)
class HistoryTrial:
    """One stored trial to replay into a fresh adapter.

    ``number`` is the trial's 0-based number in its study (which is also its index in the adapter). ``objective`` is
    the observed objective, required (finite) for ``completed`` and ``early_stopped`` trials, else ignored;
    ``sem`` its standard error where known (a trial of several members).
    Raises :class:`InvalidInputError` for a negative number, an unknown state or a missing objective.
    """

    number: int
    parameters: Mapping[str, object]
    state: HistoryState | str
    objective: float | None = None
    sem: float | None = None

    def __post_init__(self) -> None:
        if self.number < 0:
            raise InvalidInputError(f"trial numbers start at 0, got {self.number}")
        if self.state not in _HISTORY_STATES:
            raise InvalidInputError(
                f"trial {self.number}: unknown state {self.state!r}; expected one of {sorted(_HISTORY_STATES)}"
            )
        if TrialState(self.state).has_objective and (self.objective is None or not math.isfinite(self.objective)):
            raise InvalidInputError(
                f"trial {self.number} is {self.state} and needs a finite objective, got {self.objective!r}"
            )
        object.__setattr__(self, "parameters", MappingProxyType(dict(self.parameters)))


def check_history_numbers(history: Sequence[HistoryTrial]) -> list[HistoryTrial]:
    """``history`` in number order; raises :class:`InvalidInputError` unless the numbers are 0, 1, 2, ..."""
    ordered = sorted(history, key=lambda trial: trial.number)
    for position, trial in enumerate(ordered):
        if trial.number != position:
            raise InvalidInputError(
                f"history must number its trials 0, 1, 2, ... without gaps; "
                f"found {trial.number} where {position} was expected"
            )
    return ordered


# A plain name: Ax parses an objective as an expression ("a + 2 * b", "-loss").
_METRIC_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class TrialBook(ABC):
    """The trials of one study: state, parameters, objective and its standard error, by index. Thread-safe.

    A suggestion path subclasses it with :meth:`suggest` and :meth:`attach` (and the ``_record_*`` hooks where it
    keeps state of its own).

    Args:
        space: the search space; log-scaled ranges are searched on a log scale.
        seed: seeds the Sobol start and the model's suggestions, in [0, 2**32).
        n_initial: Sobol trials (failed and abandoned ones not counted) before the model takes over, at least 1.
        objective: the name of the maximized metric (a plain identifier).
        threads: torch's intra-op thread count during a suggestion; suggestions are reproducible for a seed only
            at a fixed thread count. Note that this setting is process-wide.

    Raises:
        InvalidInputError: for an out-of-range argument.
    """

    def __init__(self, space: SearchSpace, *, seed: int, n_initial: int, objective: str, threads: int) -> None:
        if not 0 <= seed < 2**32:
            raise InvalidInputError(f"seed must be in [0, 2**32), got {seed}")
        if n_initial < 1:
            raise InvalidInputError(f"n_initial must be at least 1, got {n_initial}")
        if threads < 1:
            raise InvalidInputError(f"threads must be at least 1, got {threads}")
        if not _METRIC_NAME.fullmatch(objective):
            raise InvalidInputError(f"objective must be a plain metric name like 'val_accuracy', got {objective!r}")
        self.space = space
        self.seed = seed
        self.n_initial = n_initial
        self.objective = objective
        self.threads = threads
        self._lock = threading.RLock()
        self._states: dict[int, HistoryState] = {}
        self._parameters: dict[int, dict[str, object]] = {}
        self._objectives: dict[int, float] = {}
        self._sems: dict[int, float] = {}

    @abstractmethod
    def suggest(self, n: int = 1) -> list[tuple[int, dict[str, object]]]:
        """Up to ``n`` new trials, each as (index, parameterization), now running; fewer while the start waits."""

    @abstractmethod
    def attach(self, parameters: Mapping[str, object]) -> int:
        """Start a trial at a parameterization chosen elsewhere; returns its index."""

    def best(self) -> tuple[dict[str, object], float] | None:
        """The best completed trial's parameterization and objective (the earliest on ties); None if none."""
        with self._lock:
            if not self._objectives:
                return None
            index = max(self._objectives, key=lambda i: (self._objectives[i], -i))
            return dict(self._parameters[index]), self._objectives[index]

    def state(self, index: int) -> HistoryState:
        """The state of trial ``index``; raises :class:`NotFoundError` for an unknown index."""
        with self._lock:
            self._require_known(index)
            return self._states[index]

    @property
    def n_trials(self) -> int:
        """The number of trials recorded, which is also the index the next trial gets."""
        with self._lock:
            return len(self._states)

    def history(self) -> list[HistoryTrial]:
        """Every recorded trial, running ones included, in index order."""
        with self._lock:
            return [
                HistoryTrial(
                    number=index,
                    parameters=self._parameters[index],
                    state=self._states[index],
                    objective=self._objectives.get(index),
                    sem=self._sems.get(index),
                )
                for index in sorted(self._states)
            ]

    # -- telling: checks and bookkeeping here, the path's own record in the ``_record_*`` hooks ----------------

    def complete(
        self,
        index: int,
        objective: float,
        *,
        sem: float | None = None,
        progression: Sequence[float] | None = None,
    ) -> None:
        """Record the final ``objective`` of running trial ``index``.

        ``sem`` is the objective's standard error where it is known (the mean of several members): the model then
        takes that noise instead of inferring it. ``progression`` optionally gives the objective after each epoch.
        Raises :class:`InvalidInputError` for a non-finite value or a negative ``sem``, :class:`NotFoundError` for an
        unknown index and :class:`ConflictError` for a trial that is not running.
        """
        check_finite(objective, f"trial {index}: objective")
        check_sem(sem, f"trial {index}: objective sem")
        curve = curve_values(index, progression)
        with self._lock:
            self._require_running(index, "complete")
            self._record_complete(index, float(objective), sem, curve)
            self._end(index, TrialState.COMPLETED, objective, sem)

    def fail(self, index: int, reason: str) -> None:
        """Mark running trial ``index`` failed: it yields no result."""
        with self._lock:
            self._require_running(index, "fail")
            self._record_end(index, TrialState.FAILED, reason)
            self._end(index, TrialState.FAILED)

    def abandon(self, index: int) -> None:
        """Mark running trial ``index`` abandoned (e.g. cancelled)."""
        with self._lock:
            self._require_running(index, "abandon")
            self._record_end(index, TrialState.ABANDONED, "abandoned")
            self._end(index, TrialState.ABANDONED)

    def early_stopped(self, index: int, progression: Sequence[float]) -> None:
        """Mark running trial ``index`` stopped early, with the objective after each epoch it ran (non-empty); the
        last value is its observation. Raises :class:`InvalidInputError` for an empty or non-finite progression."""
        curve = curve_values(index, progression)
        if not curve:
            raise InvalidInputError(f"trial {index}: an early-stopped trial needs at least one epoch's objective")
        with self._lock:
            self._require_running(index, "stop early")
            self._record_early_stop(index, curve)
            self._end(index, TrialState.EARLY_STOPPED, curve[-1])

    def _record_complete(self, index: int, objective: float, sem: float | None, curve: list[float]) -> None:
        """Tell the suggestion path's own state (if it keeps one) that trial ``index`` completed."""
        return None  # a path whose state is the book alone has nothing to tell

    def _record_end(self, index: int, state: TrialState, reason: str) -> None:
        """Tell it that trial ``index`` failed or was abandoned."""
        return None  # a path whose state is the book alone has nothing to tell

    def _record_early_stop(self, index: int, curve: list[float]) -> None:
        """Tell it that trial ``index`` stopped early after ``curve``."""
        return None  # a path whose state is the book alone has nothing to tell

    # -- for the adapters ------------------------------------------------------------------------------------

    def _start(self, index: int, point: dict[str, object]) -> None:
        self._states[index] = TrialState.RUNNING
        self._parameters[index] = point

    def _end(self, index: int, state: TrialState, objective: float | None = None, sem: float | None = None) -> None:
        self._states[index] = state
        if objective is not None:
            self._objectives[index] = float(objective)
        if sem is not None:
            self._sems[index] = float(sem)

    def _require_known(self, index: int) -> None:
        if index not in self._states:
            raise NotFoundError(f"no trial {index} in study {self.space.name!r} (it has {len(self._states)})")

    def _require_running(self, index: int, action: str) -> None:
        self._require_known(index)
        if self._states[index] != TrialState.RUNNING:
            raise ConflictError(f"cannot {action} trial {index}: it is {self._states[index]}, not running")


def validated(space: SearchSpace, parameters: Mapping[str, object], context: str = "parameters") -> dict[str, object]:
    """A copy of ``parameters``; raises :class:`InvalidInputError` (prefixed with ``context``) outside ``space``."""
    point = dict(parameters)
    try:
        space.validate(point)
    except ValueError as error:
        raise InvalidInputError(f"{context}: {error}") from error
    return point


def check_finite(value: float, what: str) -> None:
    """Raise :class:`InvalidInputError` naming ``what`` unless ``value`` is a finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInputError(f"{what} must be a finite number, got {value!r}")


def check_sem(sem: float | None, what: str) -> None:
    """Raise :class:`InvalidInputError` unless ``sem`` is None or a finite number >= 0."""
    if sem is not None:
        check_finite(sem, what)
        if sem < 0:
            raise InvalidInputError(f"{what} must be >= 0, got {sem}")


def curve_values(index: int, progression: Sequence[float] | None) -> list[float]:
    """``progression`` as floats; raises :class:`InvalidInputError` for a non-finite value, naming its step."""
    curve = list(progression) if progression is not None else []
    for step, value in enumerate(curve, start=1):
        check_finite(value, f"trial {index}: objective at step {step}")
    return [float(value) for value in curve]
