"""The lean suggestion path behind the adapter interface the scheduler uses (see :mod:`tuner.bo.lean`).

It holds only the study's book of trials; every suggestion is :func:`tuner.bo.lean.suggest_lean` of that book, so
a rebuilt adapter, a suggestion pool's worker and an uninterrupted study suggest the same point for the same trials.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from bnn_errors import InvalidInputError
from search_spaces import SearchSpace
from tuner.bo.history import (
    HistoryTrial,
    TrialBook,
    check_history_numbers,
    validated,
)
from tuner.bo.lean import DEFAULT_SETTINGS, LeanSettings, suggest_lean
from tuner.study.states import TrialState

__all__ = ["LeanAdapter"]


class LeanAdapter(TrialBook):
    """Suggests parameterizations of a search space with :func:`~tuner.bo.lean.suggest_lean` and records results.

    The lifecycle of :class:`~tuner.bo.history.TrialBook`: :meth:`suggest` or :meth:`attach` starts a trial, which
    ends with one of :meth:`complete`, :meth:`fail`, :meth:`abandon` or :meth:`early_stopped`; the book is all the
    state there is (an epoch curve is checked but not modelled: the GP models final values). Thread-safe.

    The arguments are :class:`~tuner.bo.history.TrialBook`'s, and ``settings``: how hard a suggestion works.
    """

    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int,
        n_initial: int = 5,
        objective: str = "val_accuracy",
        threads: int = 1,
        settings: LeanSettings = DEFAULT_SETTINGS,
    ) -> None:
        super().__init__(space, seed=seed, n_initial=n_initial, objective=objective, threads=threads)
        self.settings = settings

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
        settings: LeanSettings = DEFAULT_SETTINGS,
    ) -> LeanAdapter:
        """An adapter that continues the study whose stored trials are ``history`` (running ones become abandoned).

        Raises:
            InvalidInputError: for the arguments of :class:`LeanAdapter`, numbers that are not 0, 1, 2, ..., or
                parameters outside the space.
        """
        adapter = cls(space, seed=seed, n_initial=n_initial, objective=objective, threads=threads, settings=settings)
        with adapter._lock:
            for trial in check_history_numbers(history):
                point = validated(space, trial.parameters, context=f"stored trial {trial.number}")
                adapter._start(trial.number, point)
                state = TrialState(trial.state)
                if state is TrialState.RUNNING:
                    state = TrialState.ABANDONED  # nobody waits for a trial of a stopped scheduler
                adapter._end(trial.number, state, trial.objective if state.has_objective else None, trial.sem)
        return adapter

    def suggest(self, n: int = 1) -> list[tuple[int, dict[str, object]]]:
        """Up to ``n`` new trials, each as (index, parameterization), now running; fewer while the Sobol start waits
        for results. Raises :class:`InvalidInputError` if ``n`` < 1, :class:`GiveUpError` if BoTorch fails."""
        if n < 1:
            raise InvalidInputError(f"n must be at least 1, got {n}")
        suggestions: list[tuple[int, dict[str, object]]] = []
        with self._lock:
            torch.set_num_threads(self.threads)
            for _ in range(n):
                point = suggest_lean(
                    self.space, self.history(), seed=self.seed, n_initial=self.n_initial, settings=self.settings
                )
                if point is None:
                    break
                index = self.n_trials
                self._start(index, point)
                suggestions.append((index, point))
        return suggestions

    def attach(self, parameters: Mapping[str, object]) -> int:
        """Start a trial at a parameterization chosen elsewhere; returns its index.

        Raises :class:`InvalidInputError` for parameters outside the space.
        """
        point = validated(self.space, parameters)
        with self._lock:
            index = self.n_trials
            self._start(index, point)
        return index
