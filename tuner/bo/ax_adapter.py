"""The Ax adapter: Bayesian optimization over a search space, asked and told through plain dicts and floats.

This module and :mod:`tuner.bo.ax_parameters` (our parameters in Ax's terms) are the only ones that import Ax. Our
SQL tables are the source of truth; the Ax state
held here is derived and can be rebuilt from the stored trials with :meth:`AxAdapter.rebuild`.

Generation strategy: ``n_initial`` quasi-random Sobol trials (seeded, no centre point, so that different seeds
give different starts), then BoTorch (Ax's "fast" modular BoTorch model) maximizing the objective. While the
initialization trials still lack results, Ax may decline to generate more: :meth:`AxAdapter.suggest` then
returns fewer points than asked, possibly none; ask again when a trial has finished.

Trial numbering: the Ax trial index of a suggestion is the number under which the caller stores the trial
(0-based, consecutive); a rebuilt adapter replays the stored trials in that order, so indices stay equal.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import MappingProxyType

import torch

from bnn_errors import BnnTuneError, ConflictError, GiveUpError, InvalidInputError, NotFoundError
from search_spaces import SearchSpace
from tuner.study.states import TrialState

# Ax prints its storage set-up at import time and warns about its own use of deprecated pandas and torch APIs;
# none of it is actionable for our users, so silence it before the import.
logging.getLogger("ax.storage.sqa_store.with_db_settings_base").addFilter(
    lambda record: record.levelno >= logging.WARNING
)
warnings.filterwarnings(
    "ignore", category=DeprecationWarning, module=r"(ax|botorch|gpytorch|linear_operator|pyro)(\.|$)"
)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from ax import Client
    from ax.api.utils.generation_strategy_dispatch import choose_generation_strategy
    from ax.api.utils.structs import GenerationStrategyDispatchStruct
    from ax.exceptions.core import DataRequiredError
    from ax.utils.common.logger import set_stderr_log_level

    from tuner.bo.ax_parameters import from_ax, parameter_config, to_ax

# Ax logs every generated and completed trial at INFO; keep its warnings and errors only.
set_stderr_log_level(logging.WARNING)

__all__ = ["AxAdapter", "HistoryState", "HistoryTrial"]

HistoryState = TrialState
"""The state of a stored trial, as :meth:`AxAdapter.rebuild` reads it."""

_HISTORY_STATES: frozenset[str] = frozenset(TrialState)
_STATES_WITH_OBJECTIVE = frozenset({TrialState.COMPLETED, TrialState.EARLY_STOPPED})

# Ax parses the objective as an expression ("a + 2 * b", "-loss"), so only a plain name is a single metric.
_METRIC_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

_SOBOL_NODE = "Sobol"
_GENERATION_METHODS = {"Sobol": "sobol", "MBM": "botorch"}


@dataclass(frozen=True)
class HistoryTrial:
    """One stored trial to replay into a fresh Ax client.

    ``number`` is the trial's 0-based number in its study (which is also its Ax index). ``objective`` is
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
        if self.state in _STATES_WITH_OBJECTIVE and (self.objective is None or not math.isfinite(self.objective)):
            raise InvalidInputError(
                f"trial {self.number} is {self.state} and needs a finite objective, got {self.objective!r}"
            )
        object.__setattr__(self, "parameters", MappingProxyType(dict(self.parameters)))


class AxAdapter:
    """Suggests parameterizations of a search space and learns from their results, through an Ax ``Client``.

    Lifecycle: :meth:`suggest` (or :meth:`attach`) starts a trial, which ends with exactly one of
    :meth:`complete`, :meth:`fail`, :meth:`abandon` or :meth:`early_stopped`. :meth:`best` reads the best
    completed trial; :meth:`rebuild` restores an adapter from stored trials.

    Every method is thread-safe. Ax errors surface as :class:`GiveUpError`; a wrong trial index as
    :class:`NotFoundError`; a trial in the wrong state as :class:`ConflictError`.
    """

    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int,
        n_initial: int = 5,
        objective: str = "val_accuracy",
        threads: int = 1,
    ) -> None:
        """Configure an Ax client that maximizes ``objective`` over ``space``.

        Args:
            space: the search space; log-scaled ranges are searched on a log scale.
            seed: seeds both the Sobol initialization and BoTorch, in [0, 2**32).
            n_initial: the number of Sobol trials (failed and abandoned ones not counted) before BoTorch
                takes over, at least 1.
            objective: the name of the metric to maximize (a plain identifier).
            threads: torch's intra-op thread count during a suggestion; BoTorch's suggestions are
                reproducible for a seed only at a fixed thread count. Note that this setting is process-wide.

        Raises:
            InvalidInputError: for an out-of-range argument or a space Ax cannot represent.
        """
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

        configs = [parameter_config(parameter) for parameter in space.parameters]
        self._client = Client(random_seed=seed)
        try:
            self._client.configure_experiment(parameters=configs, name=space.name)
            self._client.configure_optimization(objective=objective)
        except Exception as error:
            raise InvalidInputError(f"Ax rejected search space {space.name!r}: {error}") from error
        self._set_generation_strategy(sobol_start=0)

    @classmethod
    def rebuild(
        cls,
        space: SearchSpace,
        *,
        seed: int,
        n_initial: int = 5,
        history: Sequence[HistoryTrial],
        objective: str = "val_accuracy",
        threads: int = 1,
    ) -> AxAdapter:
        """An adapter that continues the study whose stored trials are ``history``.

        The trials are attached in number order, so the next suggestion gets index ``len(history)``.
        Completed and early-stopped trials carry their objective, failed and abandoned trials keep their
        state, and running trials are marked abandoned (the caller re-runs them, e.g. through :meth:`attach`).

        The Sobol sequence continues where a study of ``len(history)`` trials would be: the rebuilt
        generator starts at draw ``len(history)`` rather than 0, so no used Sobol point, failed ones included,
        is suggested again. Once ``n_initial`` trials that did not fail or get abandoned exist (and half of
        them have results), BoTorch takes over, as in an uninterrupted study.

        Raises:
            InvalidInputError: for the arguments of :class:`AxAdapter`, numbers that are not 0, 1, 2, ...,
                or parameters outside the space.
            GiveUpError: when Ax refuses a stored trial.
        """
        adapter = cls(space, seed=seed, n_initial=n_initial, objective=objective, threads=threads)
        ordered = sorted(history, key=lambda trial: trial.number)
        for position, trial in enumerate(ordered):
            if trial.number != position:
                raise InvalidInputError(
                    f"history must number its trials 0, 1, 2, ... without gaps; "
                    f"found {trial.number} where {position} was expected"
                )
        with adapter._lock:
            for trial in ordered:
                adapter._replay(trial)
            adapter._set_generation_strategy(sobol_start=len(ordered))
        return adapter

    # -- asking -------------------------------------------------------------------------------------------

    def suggest(self, n: int = 1) -> list[tuple[int, dict[str, object]]]:
        """Up to ``n`` new trials, each as (Ax trial index, parameterization), now running.

        Returns fewer than ``n``, possibly none, while Ax waits for the results of initialization trials.
        Raises :class:`InvalidInputError` if ``n`` < 1, :class:`GiveUpError` if Ax fails or its suggestion
        does not validate against the space (that trial is then abandoned, and its index used up).
        """
        if n < 1:
            raise InvalidInputError(f"n must be at least 1, got {n}")
        suggestions: list[tuple[int, dict[str, object]]] = []
        with self._lock:
            torch.set_num_threads(self.threads)
            for _ in range(n):
                # One trial per call: asking Ax for more than it may generate logs a warning on the shortfall.
                with _ax_errors("suggest a trial"):
                    try:
                        generated = self._client.get_next_trials(max_trials=1)
                    except DataRequiredError:
                        # The initialization trials are all out and too few have results yet.
                        generated = {}
                if not generated:
                    break
                for index, raw in generated.items():
                    self._start(index, dict(raw))
                    try:
                        point = from_ax(self.space, raw)
                    except GiveUpError as error:
                        # Ax has already counted the trial; abandon it so that nobody waits for it.
                        self.abandon(index)
                        raise GiveUpError(f"trial {index} was abandoned: {error}") from error
                    self._parameters[index] = point
                    suggestions.append((index, point))
        return suggestions

    def attach(self, parameters: Mapping[str, object]) -> int:
        """Start a trial at a parameterization chosen outside Ax (e.g. re-running an abandoned one).

        Returns its Ax trial index. Raises :class:`InvalidInputError` for parameters outside the space.
        """
        point = _validated(self.space, parameters)
        with self._lock, _ax_errors("attach a trial"):
            index = self._client.attach_trial(parameters=to_ax(self.space, point))
            self._start(index, point)
        return index

    # -- telling ------------------------------------------------------------------------------------------

    def complete(
        self,
        index: int,
        objective: float,
        *,
        sem: float | None = None,
        progression: Sequence[float] | None = None,
    ) -> None:
        """Record the final ``objective`` of running trial ``index``.

        ``sem`` is the objective's standard error where it is known (the mean of several members): Ax then models
        the observation with that noise instead of inferring it. ``progression`` optionally gives the objective
        after each epoch (step 1, 2, ...); the final objective is recorded at the last step. Raises
        :class:`InvalidInputError` for a non-finite value or a negative ``sem``.
        """
        _check_finite(objective, f"trial {index}: objective")
        if sem is not None:
            _check_finite(sem, f"trial {index}: objective sem")
            if sem < 0:
                raise InvalidInputError(f"trial {index}: objective sem must be >= 0, got {sem}")
        curve = _curve(index, progression)
        with self._lock:
            self._require_running(index, "complete")
            with _ax_errors(f"complete trial {index}"):
                self._attach_curve(index, curve[:-1])
                self._client.complete_trial(
                    trial_index=index,
                    raw_data={self.objective: _observation(objective, sem)},
                    progression=len(curve) if curve else None,
                )
            self._objectives[index] = float(objective)
            self._states[index] = TrialState.COMPLETED

    def fail(self, index: int, reason: str) -> None:
        """Mark running trial ``index`` failed (it yields no result); Ax may suggest its point again."""
        with self._lock:
            self._require_running(index, "fail")
            with _ax_errors(f"mark trial {index} failed"):
                self._client.mark_trial_failed(trial_index=index, failed_reason=reason)
            self._states[index] = TrialState.FAILED

    def abandon(self, index: int) -> None:
        """Mark running trial ``index`` abandoned (e.g. cancelled); Ax will not suggest its point again."""
        with self._lock:
            self._require_running(index, "abandon")
            with _ax_errors(f"abandon trial {index}"):
                self._client.mark_trial_abandoned(trial_index=index)
            self._states[index] = TrialState.ABANDONED

    def early_stopped(self, index: int, progression: Sequence[float]) -> None:
        """Mark running trial ``index`` stopped early, with the objective after each epoch it ran (non-empty).

        Ax uses the last value as the trial's observation. Raises :class:`InvalidInputError` for an empty or
        non-finite progression.
        """
        curve = _curve(index, progression)
        if not curve:
            raise InvalidInputError(f"trial {index}: an early-stopped trial needs at least one epoch's objective")
        with self._lock:
            self._require_running(index, "stop early")
            with _ax_errors(f"mark trial {index} early stopped"):
                self._attach_curve(index, curve)
                self._client.mark_trial_early_stopped(trial_index=index)
            self._states[index] = TrialState.EARLY_STOPPED

    # -- reading ------------------------------------------------------------------------------------------

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

    def generation_method(self, index: int) -> str:
        """How trial ``index`` was generated: ``"sobol"``, ``"botorch"`` or ``"attached"``.

        Diagnostics: it is how the tests (and anyone comparing suggestion paths) see Ax hand over from its Sobol
        initialization to BoTorch.

        Trials replayed by :meth:`rebuild` count as attached.
        Raises :class:`NotFoundError` for an unknown index.
        """
        with self._lock:
            self._require_known(index)
            with _ax_errors(f"summarize trial {index}"):
                summary = self._client.summarize(trial_indices=[index])
        node = summary["generation_node"].iloc[0] if "generation_node" in summary.columns else None
        if not isinstance(node, str):
            return "attached"
        return _GENERATION_METHODS.get(node, node.lower())

    @property
    def n_trials(self) -> int:
        """The number of trials Ax knows, which is also the index the next trial gets."""
        with self._lock:
            return len(self._states)

    # -- private ------------------------------------------------------------------------------------------

    def _set_generation_strategy(self, *, sobol_start: int) -> None:
        # Client.configure_generation_strategy builds this same strategy but cannot start the Sobol
        # sequence past its beginning, which a rebuilt study needs.
        strategy = choose_generation_strategy(
            struct=GenerationStrategyDispatchStruct(
                method="fast",
                initialization_budget=self.n_initial,
                initialization_random_seed=self.seed,
                initialize_with_center=False,
                use_existing_trials_for_initialization=True,
            )
        )
        sobol = strategy.nodes_by_name[_SOBOL_NODE]
        sobol.generator_specs[0].generator_kwargs["init_position"] = sobol_start
        self._client.set_generation_strategy(generation_strategy=strategy)

    def _replay(self, trial: HistoryTrial) -> None:
        point = _validated(self.space, trial.parameters, context=f"stored trial {trial.number}")
        with _ax_errors(f"replay stored trial {trial.number}"):
            index = self._client.attach_trial(parameters=to_ax(self.space, point))
            if index != trial.number:
                raise GiveUpError(f"Ax gave stored trial {trial.number} the index {index}")
            self._start(index, point)
            if trial.state == TrialState.COMPLETED:
                assert trial.objective is not None
                observation = _observation(trial.objective, trial.sem)
                self._client.complete_trial(trial_index=index, raw_data={self.objective: observation})
                self._objectives[index] = float(trial.objective)
            elif trial.state == TrialState.EARLY_STOPPED:
                assert trial.objective is not None
                self._client.attach_data(trial_index=index, raw_data={self.objective: trial.objective})
                self._client.mark_trial_early_stopped(trial_index=index)
            elif trial.state == TrialState.FAILED:
                self._client.mark_trial_failed(trial_index=index, failed_reason="failed before the rebuild")
            else:
                # A trial that was running when the service stopped has no result to wait for any more.
                self._client.mark_trial_abandoned(trial_index=index)
        self._states[index] = TrialState.ABANDONED if trial.state == TrialState.RUNNING else TrialState(trial.state)

    def _start(self, index: int, point: dict[str, object]) -> None:
        self._states[index] = TrialState.RUNNING
        self._parameters[index] = point

    def _attach_curve(self, index: int, curve: Sequence[float]) -> None:
        for step, value in enumerate(curve, start=1):
            self._client.attach_data(trial_index=index, raw_data={self.objective: value}, progression=step)

    def _require_known(self, index: int) -> None:
        if index not in self._states:
            raise NotFoundError(f"no trial {index} in study {self.space.name!r} (it has {len(self._states)})")

    def _require_running(self, index: int, action: str) -> None:
        self._require_known(index)
        if self._states[index] != TrialState.RUNNING:
            raise ConflictError(f"cannot {action} trial {index}: it is {self._states[index]}, not running")


@contextmanager
def _ax_errors(action: str) -> Iterator[None]:
    """Turn whatever Ax (or BoTorch beneath it) raises into a :class:`GiveUpError` naming the action."""
    try:
        yield
    except BnnTuneError:
        raise
    except Exception as error:
        raise GiveUpError(f"Ax could not {action}: {type(error).__name__}: {error}") from error


def _validated(space: SearchSpace, parameters: Mapping[str, object], context: str = "parameters") -> dict[str, object]:
    point = dict(parameters)
    try:
        space.validate(point)
    except ValueError as error:
        raise InvalidInputError(f"{context}: {error}") from error
    return point


def _check_finite(value: float, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInputError(f"{what} must be a finite number, got {value!r}")


def _observation(objective: float, sem: float | None) -> float | tuple[float, float]:
    """What Ax takes as an observation: the value, with its standard error where it is known."""
    return float(objective) if sem is None else (float(objective), float(sem))


def _curve(index: int, progression: Sequence[float] | None) -> list[float]:
    curve = list(progression) if progression is not None else []
    for step, value in enumerate(curve, start=1):
        _check_finite(value, f"trial {index}: objective at step {step}")
    return [float(value) for value in curve]
