"""The Ray executor: each trial attempt is a Ray task with the CPUs, GPUs and custom resources the settings ask for.

The only module of the tuner that imports Ray. Without an address it starts a local Ray instance (and stops it on
shutdown); with one (``BNN_TUNE_RAY_ADDRESS`` or ``RAY_ADDRESS``) it joins that cluster, so GPU nodes take trials.

Ray's own task retries are off (``max_retries=0``): a dead worker comes back as a retryable failed outcome, and the
scheduler retries it, counting attempts in our tables, where the user can see them.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Mapping
from typing import Any

import ray
import torch
from ray.exceptions import RayError, RayTaskError

from bnn_errors import RetryableError
from tuner.execution.executor import Executor
from tuner.execution.worker import TrialJob, TrialOutcome, group_jobs, run_trial_batch
from tuner.study.states import TrialState

__all__ = ["ClusterUnavailableError", "RayExecutor"]


class ClusterUnavailableError(RetryableError):
    """The Ray cluster at the configured address did not answer."""


def _probe(address: str, timeout: float = 5.0) -> None:
    """Fail fast where nothing listens at ``host:port``: ``ray.init`` itself retries for minutes."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # "auto" and other forms Ray resolves itself
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ConnectionError(f"nothing answers at {host}:{port} ({exc})") from exc


def _run_on_ray(jobs: list[TrialJob], threads: int) -> list[TrialOutcome]:
    # PyTorch would use every core of the node; a trial gets the CPUs Ray reserved for it (measured here: two trials
    # with two threads each on two cores ran about 4x slower than with one each).
    torch.set_num_threads(threads)
    return run_trial_batch(jobs, node_id=ray.get_runtime_context().get_node_id())


class RayExecutor(Executor):
    """Runs attempts as Ray tasks; see the module docstring."""

    def __init__(
        self,
        *,
        address: str | None = None,
        num_cpus_per_trial: float = 1.0,
        num_gpus_per_trial: float = 0.0,
        resources_per_trial: Mapping[str, float] | None = None,
        local_num_cpus: int | None = None,
        batch: bool = False,
    ) -> None:
        self._started_ray = False
        if address:
            # Probe even where this process is already connected: a configured address that is silent is an error.
            self._probe_or_raise(address)
        if not ray.is_initialized():
            self._connect(address, local_num_cpus)
        self._threads = max(1, int(num_cpus_per_trial))
        self._options: dict[str, Any] = {
            "num_cpus": num_cpus_per_trial,
            "num_gpus": num_gpus_per_trial,
            "max_retries": 0,
        }
        if resources_per_trial:
            self._options["resources"] = dict(resources_per_trial)
        self._task = ray.remote(_run_on_ray)
        # Trials that batch well only on CUDA (CIFAR-10) are grouped only where each task gets a GPU.
        self._gpu_workers = num_gpus_per_trial > 0
        self.batch = batch
        self._unsent: list[TrialJob] = []
        # One Ray task runs a group of jobs: one job, or with batch=True every job that can share a batched model.
        self._pending: dict[ray.ObjectRef, list[TrialJob]] = {}  # type: ignore[type-arg]
        self._dropped: set[int] = set()  # cancelled members of groups that still run

    @staticmethod
    def _probe_or_raise(address: str) -> None:
        try:
            _probe(address)
        except ConnectionError as exc:
            raise ClusterUnavailableError(
                f"could not connect to the Ray cluster at {address} (set by BNN_TUNE_RAY_ADDRESS or RAY_ADDRESS): {exc}"
            ) from exc

    def _connect(self, address: str | None, local_num_cpus: int | None) -> None:
        try:
            if address:
                ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
            else:
                ray.init(
                    num_cpus=local_num_cpus,
                    include_dashboard=False,
                    logging_level=logging.WARNING,
                    log_to_driver=False,
                )
                self._started_ray = True
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = address or "a new local instance"
            raise ClusterUnavailableError(
                f"could not connect to the Ray cluster at {where} (set by BNN_TUNE_RAY_ADDRESS or RAY_ADDRESS): {exc}"
            ) from exc

    def submit(self, job: TrialJob) -> None:
        if self.batch:
            self._unsent.append(job)  # sent at the next wait(), batched with what the same round submits
        else:
            self._send([job])

    def slots(self) -> int:
        """How many of this executor's tasks the cluster can run at once: its total CPUs, GPUs and custom
        resources over what one task asks of each (the scarcest decides), at least 1. Totals, not what is free
        now: the count a round's batches are split to fill (see :func:`tuner.execution.worker.group_jobs`)."""
        totals: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
        asked = {
            "CPU": self._options["num_cpus"],
            "GPU": self._options["num_gpus"],
            **self._options.get("resources", {}),
        }
        fits = [totals.get(name, 0.0) / amount for name, amount in asked.items() if amount > 0]
        return max(1, int(min(fits))) if fits else max(1, int(totals.get("CPU", 1.0)))

    def _send(self, jobs: list[TrialJob]) -> None:
        ref = self._task.options(**self._options).remote(jobs, self._threads)
        self._pending[ref] = jobs

    def wait(self, timeout: float) -> list[tuple[TrialJob, TrialOutcome]]:
        if self._unsent:
            # Split a round only over the slots that no batch of an earlier submission holds: a round whose studies
            # come back at different times would otherwise be cut smaller at every round.
            free = max(1, self.slots() - len(self._pending))
            for group in group_jobs(self._unsent, cuda_available=self._gpu_workers, slots=free):
                self._send(group)
            self._unsent = []
        if not self._pending:
            return []
        ready, _ = ray.wait(list(self._pending), num_returns=1, timeout=timeout)
        if ready:  # collect everything else that is already done without waiting again
            ready, _ = ray.wait(list(self._pending), num_returns=len(self._pending), timeout=0)
        finished: list[tuple[TrialJob, TrialOutcome]] = []
        for ref in ready:
            jobs = self._pending.pop(ref)
            for job, outcome in zip(jobs, self._outcomes(ref, jobs), strict=True):
                if job.trial_id in self._dropped:
                    self._dropped.discard(job.trial_id)
                else:
                    finished.append((job, outcome))
        return finished

    def _outcomes(self, ref: ray.ObjectRef, jobs: list[TrialJob]) -> list[TrialOutcome]:  # type: ignore[type-arg]
        try:
            outcomes: list[TrialOutcome] = ray.get(ref, timeout=60)
            return outcomes
        except RayTaskError as exc:
            # Our worker returns failures as outcomes; an exception here is a bug, and retrying repeats it.
            error = f"worker raised: {exc.cause!r}"
            return [TrialOutcome(job.trial_id, TrialState.FAILED, error=error, retryable=False) for job in jobs]
        except RayError as exc:
            # A dead worker or node: the whole group is retried (each job as its own new attempt).
            error = f"worker lost: {type(exc).__name__}: {exc}"
            return [TrialOutcome(job.trial_id, TrialState.FAILED, error=error, retryable=True) for job in jobs]

    def cancel(self, trial_id: int) -> None:
        self._unsent = [job for job in self._unsent if job.trial_id != trial_id]
        for ref, jobs in list(self._pending.items()):
            ids = {job.trial_id for job in jobs}
            if trial_id not in ids:
                continue
            if ids - self._dropped - {trial_id}:
                # Other members still train in that task: keep it, and drop this job's outcome when it comes.
                self._dropped.add(trial_id)
            else:
                ray.cancel(ref, force=True)
                del self._pending[ref]
                self._dropped -= ids

    def in_flight(self) -> int:
        running = sum(1 for jobs in self._pending.values() for job in jobs if job.trial_id not in self._dropped)
        return len(self._unsent) + running

    def shutdown(self) -> None:
        for ref in list(self._pending):
            ray.cancel(ref, force=True)
        self._pending.clear()
        self._unsent.clear()
        self._dropped.clear()
        if self._started_ray:
            ray.shutdown()
            self._started_ray = False
