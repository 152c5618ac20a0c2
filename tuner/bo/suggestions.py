"""Bayesian-optimization suggestions for many studies at once, answered by worker processes.

In a comparison's lockstep rounds every replicate study asks for its next trial at the same moment. One BoTorch
suggestion costs one to two seconds of mostly single-threaded Python (model fitting and acquisition optimization on
a handful of points, bound by the interpreter, so threads do not help): asked one after another, 40 studies keep
the machine waiting about a minute per round while the workers sit idle. A :class:`SuggestionPool` answers them in
parallel from worker processes.

A suggestion needs only the study's trial history: :func:`suggest_from_history` asks the study's suggestion path
for one trial from it (the lean path is a function of the history; the Ax path rebuilds the study's Ax state with
:meth:`AxAdapter.rebuild`, which continues the Sobol sequence where the history ends).
The scheduler then attaches the answer to its own adapter, which keeps the study's record. The same function runs
in the scheduler's process when no pool is configured or a worker fails, so both paths suggest the same point for
the same history.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Hashable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, TypeVar

import torch

from bnn_errors import BnnTuneError, InvalidInputError
from search_spaces import get_space
from tuner.bo.adapters import Suggester, new_adapter
from tuner.bo.history import HistoryState, HistoryTrial
from tuner.bo.lean import suggest_lean
from tuner.study.states import TrialState

__all__ = ["Answer", "SuggestionPool", "SuggestionRequest", "suggest_from_history"]

log = logging.getLogger(__name__)

Key = TypeVar("Key", bound=Hashable)
Answer = dict[str, object] | None | BnnTuneError
"""A suggestion: the parameters of the next trial, None while Ax waits for results, or why none could be made."""


@dataclass(frozen=True)
class SuggestionRequest:
    """What a worker needs to suggest a study's next trial: its space's registered name, the suggestion path and its
    settings, and the history.

    ``history`` holds (number, parameters, state, objective, sem) per stored trial, in plain types so that the request
    pickles; no trial may be running (a rebuilt adapter would take it for abandoned).
    """

    space: str
    seed: int
    n_initial: int
    objective: str
    history: tuple[tuple[int, dict[str, object], HistoryState, float | None, float | None], ...]
    suggester: Suggester = "botorch"

    @classmethod
    def of(
        cls,
        space: str,
        *,
        seed: int,
        n_initial: int,
        objective: str,
        history: Sequence[HistoryTrial],
        suggester: Suggester = "botorch",
    ) -> SuggestionRequest:
        """The request for a study whose stored trials are ``history``.

        Raises:
            InvalidInputError: a trial of ``history`` is still running.
        """
        running = [t.number for t in history if t.state == TrialState.RUNNING]
        if running:
            raise InvalidInputError(f"trials {running} are still running: their results are not in the history")
        return cls(
            space=space,
            seed=seed,
            n_initial=n_initial,
            objective=objective,
            history=tuple((t.number, dict(t.parameters), TrialState(t.state), t.objective, t.sem) for t in history),
            suggester=suggester,
        )


def suggest_from_history(request: SuggestionRequest) -> dict[str, object] | None:
    """The parameters of the study's next trial (number ``len(history)``), or None while the start waits for results.

    Raises:
        UnknownSpaceError: the space is not registered in this process.
        GiveUpError: Ax or BoTorch failed.
    """
    history = [
        HistoryTrial(number=number, parameters=parameters, state=state, objective=objective, sem=sem)
        for number, parameters, state, objective, sem in request.history
    ]
    space = get_space(request.space)
    if request.suggester == "botorch":
        torch.set_num_threads(1)  # as the adapters do: a seed's suggestion is reproducible at a fixed thread count
        return suggest_lean(space, history, seed=request.seed, n_initial=request.n_initial)
    adapter = new_adapter(
        request.suggester,
        space,
        seed=request.seed,
        n_initial=request.n_initial,
        history=history,
        objective=request.objective,
    )
    suggestions = adapter.suggest(1)
    return suggestions[0][1] if suggestions else None


def _warm_worker() -> None:
    # Importing BoTorch takes seconds: pay it when the worker starts, not on its first suggestion. (Ax, for the
    # studies that ask for it, is imported on their first suggestion.)
    import botorch.models  # noqa: F401


class SuggestionPool:
    """Worker processes that answer :class:`SuggestionRequest` s in parallel.

    Workers are spawned (not forked: the scheduler may hold threads, Ray and database connections) on first use and
    each keeps one torch thread, as the scheduler's own suggestions do.

    Args:
        workers: how many processes, >= 1.
    """

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise InvalidInputError(f"suggestion workers must be at least 1, got {workers}")
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def suggest(self, requests: Mapping[Key, SuggestionRequest]) -> dict[Key, Answer]:
        """Each request's answer, computed in parallel: the parameters, None while Ax waits, or the error.

        A request whose worker fails (a space registered only in this process, a crashed worker, an Ax error) is
        answered here, in this process, instead; an error raised here is the answer.
        """
        if not requests:
            return {}
        futures: dict[Key, Future[dict[str, object] | None]] = {}
        try:
            pool = self._started()
            futures = {key: pool.submit(suggest_from_history, request) for key, request in requests.items()}
        except Exception as error:  # a pool that cannot start or was broken by a dead worker
            log.warning("suggestion pool unavailable (%s); suggesting in the scheduler process", error)
            self._discard()
        answers: dict[Key, Answer] = {}
        for key, request in requests.items():
            future = futures.get(key)
            if future is not None:
                try:
                    answers[key] = future.result()
                    continue
                except BrokenProcessPool as error:
                    # A worker died: the pool takes no more work; the next call starts a fresh one.
                    log.warning("the suggestion pool broke (%s); suggesting here", error)
                    self._discard()
                except Exception as error:
                    log.warning("a suggestion worker failed (%s: %s); suggesting here", type(error).__name__, error)
            try:
                answers[key] = suggest_from_history(request)
            except BnnTuneError as error:
                answers[key] = error
        return answers

    def close(self) -> None:
        """Stop the worker processes (a later :meth:`suggest` starts new ones)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _started(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_warm_worker,
            )
        return self._pool

    def _discard(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> SuggestionPool:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
