"""Where trials run: the executor interface and the in-process executor.

An executor takes :class:`TrialJob` objects and hands back :class:`TrialOutcome` objects as attempts finish. It never
raises for a failed attempt: a worker that died comes back as a failed outcome with ``retryable=True``, and the
scheduler decides whether to try again. The Ray executor (``tuner.execution.ray_executor``) runs jobs on a Ray cluster;
the :class:`InlineExecutor` here runs them one after another in the calling process (unit tests, debugging).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch

from tuner.execution.worker import TrialJob, TrialOutcome, group_jobs, run_trial_batch

__all__ = ["Executor", "InlineExecutor"]


class Executor(ABC):
    """Runs trial attempts somewhere and reports how they ended.

    Invariants: every submitted job is reported by :meth:`wait` exactly once, unless it was cancelled first;
    a cancelled job is never reported.
    """

    @abstractmethod
    def submit(self, job: TrialJob) -> None:
        """Start an attempt. Raises nothing for a failing attempt; that comes back from :meth:`wait`."""

    @abstractmethod
    def wait(self, timeout: float) -> list[tuple[TrialJob, TrialOutcome]]:
        """Attempts that ended, waiting at most ``timeout`` seconds for the first one; may return none."""

    @abstractmethod
    def cancel(self, trial_id: int) -> None:
        """Stop the attempt of this trial if it is still running; unknown ids are ignored."""

    @abstractmethod
    def in_flight(self) -> int:
        """How many submitted attempts have not been reported or cancelled."""

    def shutdown(self) -> None:  # noqa: B027 - optional hook; most executors hold nothing
        """Release what the executor holds (connections, a cluster it started)."""


class InlineExecutor(Executor):
    """Runs submitted jobs in this process when :meth:`wait` is called.

    One job per call by default; with ``batch=True`` every queued job, those that can share a batched model
    (see :func:`tuner.execution.worker.group_jobs`) trained together.
    """

    def __init__(self, *, batch: bool = False) -> None:
        self._queue: list[TrialJob] = []
        self.batch = batch

    def submit(self, job: TrialJob) -> None:
        self._queue.append(job)

    def wait(self, timeout: float) -> list[tuple[TrialJob, TrialOutcome]]:
        if not self._queue:
            return []
        if self.batch:
            jobs, self._queue = self._queue, []
            groups = group_jobs(jobs, cuda_available=torch.cuda.is_available())
        else:
            groups = [[self._queue.pop(0)]]
        finished: list[tuple[TrialJob, TrialOutcome]] = []
        for group in groups:
            finished.extend(zip(group, run_trial_batch(group, node_id="inline"), strict=True))
        return finished

    def cancel(self, trial_id: int) -> None:
        self._queue = [job for job in self._queue if job.trial_id != trial_id]

    def in_flight(self) -> int:
        return len(self._queue)
