"""What runs on a worker: train one trial and write its curve to the database as it grows.

The worker is the one writer of its trial's curve points (an upsert per epoch, so a retried attempt overwrites rather
than duplicates); the scheduler is the one writer of the trial's state. Nothing here imports Ray: the Ray executor
wraps :func:`run_trial_job`, and the inline executor calls it directly.

Errors the trainer raises on purpose come back as a failed :class:`TrialOutcome` rather than an exception, so that a
task framework never has to re-raise our exception types; only a dead worker surfaces as an exception, in the executor.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from bnn_errors import BnnTuneError, ConflictError, InvalidInputError, RetryableError
from trainers.batched import batch_key, worth_batching
from trainers.members import member_specs, objective_value, objective_with_sem, train_members
from trainers.trial import EpochPoint, TrialResult, TrialSpec, train_trial
from tuner.storage import Storage
from tuner.study.early_stopping import EarlyStopping
from tuner.study.states import TrialState

__all__ = [
    "TrialJob",
    "TrialOutcome",
    "group_jobs",
    "objective_value",
    "run_trial_batch",
    "run_trial_job",
]


@dataclass(frozen=True)
class TrialJob:
    """One attempt at one trial, as sent to a worker."""

    trial_id: int
    study_id: int
    number: int
    attempt: int
    spec: TrialSpec
    objective: str
    database_url: str
    early_stopping: EarlyStopping | None = None
    folds: int = 1
    repeats: int = 1

    @property
    def members(self) -> list[TrialSpec]:
        """What the trial trains: ``spec`` on every fold, with every repeat's seed (:func:`member_specs`)."""
        return member_specs(self.spec, self.folds, self.repeats)


@dataclass(frozen=True)
class TrialOutcome:
    """How an attempt ended. ``retryable`` failures may be tried again with the same parameters."""

    trial_id: int
    state: TrialState
    objective: float | None = None
    objective_sem: float | None = None
    error: str | None = None
    retryable: bool = False
    worker_host: str = field(default_factory=socket.gethostname)
    node_id: str | None = None
    seconds: float = 0.0


@lru_cache(maxsize=4)
def _storage(url: str) -> Storage:
    # One engine per worker process and database, reused across the trials the process runs.
    return Storage(url)


def run_trial_job(job: TrialJob, node_id: str | None = None) -> TrialOutcome:
    """Train the job's trial, writing each epoch's point to the database; never raises our own errors.

    A trial of several members trains as :func:`run_trial_batch` trains it; a single member may stop early.
    """
    if job.folds * job.repeats > 1:
        return run_trial_batch([job], node_id=node_id)[0]
    started = time.perf_counter()
    storage = _storage(job.database_url)
    rule = job.early_stopping

    def report(point: EpochPoint) -> bool:
        metrics = point.metrics()
        storage.add_points(job.trial_id, point.epoch, metrics)
        if rule is None:
            return False
        return rule.should_stop(point.epoch, metrics[rule.metric], _peer_values(storage, job, point.epoch, rule))

    try:
        result = train_trial(job.spec, on_epoch=report)
    except BnnTuneError as exc:  # a diverged trial included: it fails at once, never retried
        return _failed(job, exc, node_id=node_id, started=started)
    value = objective_value(result.points, job.objective)
    return TrialOutcome(
        trial_id=job.trial_id,
        state=TrialState.EARLY_STOPPED if result.stopped_early else TrialState.COMPLETED,
        objective=value,
        node_id=node_id,
        seconds=time.perf_counter() - started,
    )


def _failed(job: TrialJob, exc: BnnTuneError, *, node_id: str | None, started: float) -> TrialOutcome:
    """A failed outcome for ``job``; retryable exactly when the error is (a diverged trial is not)."""
    return TrialOutcome(
        trial_id=job.trial_id,
        state=TrialState.FAILED,
        error=f"{type(exc).__name__}: {exc}",
        retryable=isinstance(exc, RetryableError),
        node_id=node_id,
        seconds=time.perf_counter() - started,
    )


def _peer_values(storage: Storage, job: TrialJob, epoch: int, rule: EarlyStopping) -> list[float]:
    """The metric at ``epoch`` of the study's other trials that have finished (completed or stopped early)."""
    finished = {t.id for t in storage.trials(job.study_id) if t.state.has_objective}
    curves = storage.curves(job.study_id)
    return [
        p.value
        for trial_id in finished - {job.trial_id}
        for p in curves.get(trial_id, [])
        if p.epoch == epoch and p.metric == rule.metric
    ]


def group_jobs(jobs: Sequence[TrialJob], *, cuda_available: bool = False, slots: int = 1) -> list[list[TrialJob]]:
    """Jobs that can train as one batched model, grouped; the others alone, in submission order.

    Trials with the same batch key (task, width, epochs, batch size, ...) and database batch together where
    batching gains (:func:`trainers.batched.worth_batching`: audio trials everywhere, CIFAR-10 trials where they
    train on CUDA; ``cuda_available`` says whether the workers have a GPU). Trials of different BNN optimizers
    (a comparison's latent and filter studies) share a batch: within a group the jobs are ordered by optimizer
    (stably), so that each optimizer updates one run of consecutive members. Trials of other tasks, and trials
    with early stopping (which stops members one by one), run alone.

    ``slots`` is how many groups the executor can start now. A batch occupies one of them, so where there are
    more slots than batches each batch is split into ``slots // batches`` batches of near-equal size
    (consecutive members in optimizer order: a round of 20 filter and 20 latent trials on two slots is one
    batch per optimizer), rather than leaving slots idle.

    Raises:
        InvalidInputError: ``slots`` below 1.
    """
    if slots < 1:
        raise InvalidInputError(f"slots must be at least 1, got {slots}")
    groups: dict[tuple[object, ...], list[TrialJob]] = {}
    singles: list[list[TrialJob]] = []
    for job in jobs:
        if job.early_stopping is not None or not worth_batching(job.spec, cuda_available=cuda_available):
            singles.append([job])
        else:
            groups.setdefault((*batch_key(job.spec), job.database_url), []).append(job)
    parts = max(1, slots // len(groups)) if groups else 1
    batches = [
        batch for group in groups.values() for batch in _split(sorted(group, key=lambda job: job.spec.optimizer), parts)
    ]
    return [*batches, *singles]


def _split(jobs: list[TrialJob], parts: int) -> list[list[TrialJob]]:
    """``jobs`` cut into ``min(parts, len(jobs))`` consecutive pieces whose sizes differ by at most one."""
    parts = min(parts, len(jobs))
    size, extra = divmod(len(jobs), parts)
    pieces, start = [], 0
    for k in range(parts):
        stop = start + size + (k < extra)
        pieces.append(jobs[start:stop])
        start = stop
    return pieces


def run_trial_batch(jobs: Sequence[TrialJob], node_id: str | None = None) -> list[TrialOutcome]:
    """Train the members of ``jobs`` (one group of :func:`group_jobs`); one outcome per job, in order.

    Every member of every job is one unit: units that can share a batched model (the same fold) train as one
    (:func:`~trainers.members.train_members`), so a round of trials makes one batch per fold. Each member's points
    are written as they come, under its member index. A job's objective is the mean over its members with its
    standard error; a member that fails (diverges) fails its trial, and an error of a whole batch fails every trial
    in it (retryable if the error is).
    """
    if len(jobs) == 1 and jobs[0].folds * jobs[0].repeats == 1 and jobs[0].early_stopping is not None:
        return [run_trial_job(jobs[0], node_id=node_id)]
    started = time.perf_counter()
    storage = _storage(jobs[0].database_url)
    units = [(job, member, spec) for job in jobs for member, spec in enumerate(job.members)]

    def report(k: int, point: EpochPoint) -> None:
        job, member, _ = units[k]
        # A member whose trial was cancelled meanwhile stops being stored; the others go on.
        with contextlib.suppress(ConflictError):
            storage.add_points(job.trial_id, point.epoch, point.metrics(), member=member)

    results = train_members([spec for _, _, spec in units], on_epoch=report)
    outcomes = []
    for job in jobs:
        mine = [result for (owner, _, _), result in zip(units, results, strict=True) if owner is job]
        failure = next((r for r in mine if not isinstance(r, TrialResult)), None)
        if failure is not None:
            outcomes.append(_failed(job, failure, node_id=node_id, started=started))
            continue
        values = [objective_value(r.points, job.objective) for r in mine if isinstance(r, TrialResult)]
        mean, sem = objective_with_sem(values)
        outcomes.append(
            TrialOutcome(
                trial_id=job.trial_id,
                state=TrialState.COMPLETED,
                objective=mean,
                objective_sem=sem,
                node_id=node_id,
                seconds=time.perf_counter() - started,
            )
        )
    return outcomes
