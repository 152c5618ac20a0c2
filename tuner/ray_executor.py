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
from ray.exceptions import GetTimeoutError, RayError, RayTaskError, TaskCancelledError

from trainers.errors import RetryableError
from tuner.executor import Executor
from tuner.worker import TrialJob, TrialOutcome, run_trial_job

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


def _run_on_ray(job: TrialJob, threads: int) -> TrialOutcome:
    # PyTorch would use every core of the node; a trial gets the CPUs Ray reserved for it (measured here: two trials
    # with two threads each on two cores ran about 4x slower than with one each).
    torch.set_num_threads(threads)
    return run_trial_job(job, node_id=ray.get_runtime_context().get_node_id())


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
    ) -> None:
        self._started_ray = False
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
        self._pending: dict[ray.ObjectRef, TrialJob] = {}  # type: ignore[type-arg]

    def _connect(self, address: str | None, local_num_cpus: int | None) -> None:
        try:
            if address:
                _probe(address)
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
        ref = self._task.options(**self._options).remote(job, self._threads)
        self._pending[ref] = job

    def wait(self, timeout: float) -> list[tuple[TrialJob, TrialOutcome]]:
        if not self._pending:
            return []
        ready, _ = ray.wait(list(self._pending), num_returns=1, timeout=timeout)
        if ready:  # collect everything else that is already done without waiting again
            ready, _ = ray.wait(list(self._pending), num_returns=len(self._pending), timeout=0)
        finished = []
        for ref in ready:
            job = self._pending.pop(ref)
            finished.append((job, self._outcome(ref, job)))
        return finished

    def _outcome(self, ref: ray.ObjectRef, job: TrialJob) -> TrialOutcome:  # type: ignore[type-arg]
        try:
            outcome: TrialOutcome = ray.get(ref, timeout=60)
            return outcome
        except RayTaskError as exc:
            # Our worker returns failures as outcomes; an exception here is a bug, and retrying repeats it.
            return TrialOutcome(job.trial_id, "failed", error=f"worker raised: {exc.cause!r}", retryable=False)
        except (TaskCancelledError, GetTimeoutError, RayError) as exc:
            return TrialOutcome(
                job.trial_id, "failed", error=f"worker lost: {type(exc).__name__}: {exc}", retryable=True
            )

    def cancel(self, trial_id: int) -> None:
        for ref, job in list(self._pending.items()):
            if job.trial_id == trial_id:
                ray.cancel(ref, force=True)
                del self._pending[ref]

    def in_flight(self) -> int:
        return len(self._pending)

    def shutdown(self) -> None:
        for ref in list(self._pending):
            ray.cancel(ref, force=True)
        self._pending.clear()
        if self._started_ray:
            ray.shutdown()
            self._started_ray = False
