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
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import torch

from bnn_errors import BnnTuneError, GiveUpError, InvalidInputError
from search_spaces import SearchSpace
from tuner.bo.history import (
    HistoryState,
    HistoryTrial,
    TrialBook,
    check_history_numbers,
    validated,
)
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

_SOBOL_NODE = "Sobol"
_GENERATION_METHODS = {"Sobol": "sobol", "MBM": "botorch"}


class AxAdapter(TrialBook):
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

        The arguments are :class:`~tuner.bo.history.TrialBook`'s; BoTorch's random state is seeded with ``seed`` too.

        Raises:
            InvalidInputError: for an out-of-range argument or a space Ax cannot represent.
        """
        super().__init__(space, seed=seed, n_initial=n_initial, objective=objective, threads=threads)

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
        ordered = check_history_numbers(history)
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
        point = validated(self.space, parameters)
        with self._lock, _ax_errors("attach a trial"):
            index = self._client.attach_trial(parameters=to_ax(self.space, point))
            self._start(index, point)
        return index

    # -- telling (checks and bookkeeping in TrialBook) ------------------------------------------------------

    def _record_complete(self, index: int, objective: float, sem: float | None, curve: list[float]) -> None:
        # The curve's last step is the completion itself.
        with _ax_errors(f"complete trial {index}"):
            self._attach_curve(index, curve[:-1])
            self._client.complete_trial(
                trial_index=index,
                raw_data={self.objective: _observation(objective, sem)},
                progression=len(curve) if curve else None,
            )

    def _record_end(self, index: int, state: TrialState, reason: str) -> None:
        # A failed trial's point may be suggested again; an abandoned one's is not.
        with _ax_errors(f"mark trial {index} {state}"):
            if state == TrialState.FAILED:
                self._client.mark_trial_failed(trial_index=index, failed_reason=reason)
            else:
                self._client.mark_trial_abandoned(trial_index=index)

    def _record_early_stop(self, index: int, curve: list[float]) -> None:
        # Ax uses the last value as the trial's observation.
        with _ax_errors(f"mark trial {index} early stopped"):
            self._attach_curve(index, curve)
            self._client.mark_trial_early_stopped(trial_index=index)

    # -- reading ------------------------------------------------------------------------------------------

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
        point = validated(self.space, trial.parameters, context=f"stored trial {trial.number}")
        with _ax_errors(f"replay stored trial {trial.number}"):
            index = self._client.attach_trial(parameters=to_ax(self.space, point))
            if index != trial.number:
                raise GiveUpError(f"Ax gave stored trial {trial.number} the index {index}")
            self._start(index, point)
            if trial.state == TrialState.COMPLETED:
                assert trial.objective is not None
                observation = _observation(trial.objective, trial.sem)
                self._client.complete_trial(trial_index=index, raw_data={self.objective: observation})
                self._end(index, TrialState.COMPLETED, trial.objective, trial.sem)
            elif trial.state == TrialState.EARLY_STOPPED:
                assert trial.objective is not None
                self._client.attach_data(trial_index=index, raw_data={self.objective: trial.objective})
                self._client.mark_trial_early_stopped(trial_index=index)
            elif trial.state == TrialState.FAILED:
                self._client.mark_trial_failed(trial_index=index, failed_reason="failed before the rebuild")
            else:
                # A trial that was running when the service stopped has no result to wait for any more.
                self._client.mark_trial_abandoned(trial_index=index)
        if trial.state == TrialState.EARLY_STOPPED:
            self._end(index, TrialState.EARLY_STOPPED, trial.objective)
        elif trial.state != TrialState.COMPLETED:
            self._end(index, TrialState.ABANDONED if trial.state == TrialState.RUNNING else TrialState(trial.state))

    def _attach_curve(self, index: int, curve: Sequence[float]) -> None:
        for step, value in enumerate(curve, start=1):
            self._client.attach_data(trial_index=index, raw_data={self.objective: value}, progression=step)


@contextmanager
def _ax_errors(action: str) -> Iterator[None]:
    """Turn whatever Ax (or BoTorch beneath it) raises into a :class:`GiveUpError` naming the action."""
    try:
        yield
    except BnnTuneError:
        raise
    except Exception as error:
        raise GiveUpError(f"Ax could not {action}: {type(error).__name__}: {error}") from error


def _observation(objective: float, sem: float | None) -> float | tuple[float, float]:
    """What Ax takes as an observation: the value, with its standard error where it is known."""
    return float(objective) if sem is None else (float(objective), float(sem))
