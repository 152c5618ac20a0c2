"""Which queued trials the executors send as one batch: ``tuner.execution.worker.group_jobs``."""

from __future__ import annotations

import dataclasses

import pytest

from bnn_errors import InvalidInputError
from trainers.batched import worth_batching
from trainers.trial import TrialSpec
from tuner.execution.worker import TrialJob, group_jobs

AUDIO = TrialSpec(task="audio", optimizer="filter", hyperparameters={"alpha": 1e-3, "gamma": 0.1})


def _job(trial_id: int, spec: TrialSpec, **changes: object) -> TrialJob:
    job = TrialJob(trial_id, 1, trial_id, 1, spec, "val_accuracy", "sqlite:///x.db")
    return dataclasses.replace(job, **changes)  # type: ignore[arg-type]


def _ids(groups: list[list[TrialJob]]) -> list[list[int]]:
    return [[job.trial_id for job in group] for group in groups]


def test_audio_trials_with_one_batch_key_go_together_the_rest_alone() -> None:
    jobs = [
        _job(1, AUDIO),
        _job(2, dataclasses.replace(AUDIO, seed=5, hyperparameters={"alpha": 1e-2, "gamma": 0.5})),
        _job(3, dataclasses.replace(AUDIO, width=128)),
        _job(4, AUDIO, early_stopping={"metric": "val_accuracy"}),
        _job(5, AUDIO, database_url="sqlite:///other.db"),
        _job(6, dataclasses.replace(AUDIO, task="imagenet")),
        _job(7, dataclasses.replace(AUDIO, seed=9)),
    ]
    assert _ids(group_jobs(jobs)) == [[1, 2, 7], [3], [5], [4], [6]]


def test_optimizers_share_a_batch_each_as_one_run_of_members() -> None:
    latent = dataclasses.replace(AUDIO, optimizer="latent", hyperparameters={"lr": 0.1, "momentum": 0.9})
    # a comparison's lockstep round: its latent and filter replicates, interleaved as the studies come
    jobs = [_job(1, AUDIO), _job(2, latent), _job(3, AUDIO), _job(4, latent), _job(5, AUDIO)]
    assert _ids(group_jobs(jobs)) == [[1, 3, 5, 2, 4]]


@pytest.mark.parametrize(
    ("slots", "expected"),
    [
        (1, [[1, 3, 5, 2, 4], [6, 7], [8]]),
        # two batch keys share two slots: one batch each
        (2, [[1, 3, 5, 2, 4], [6, 7], [8]]),
        # four slots: each key's batch in two, in optimizer order (filter, then latent)
        (4, [[1, 3, 5], [2, 4], [6], [7], [8]]),
        # more slots than members: one member per batch at most
        (12, [[1], [3], [5], [2], [4], [6], [7], [8]]),
    ],
)
def test_free_slots_split_a_batch_into_near_equal_consecutive_parts(slots: int, expected: list[list[int]]) -> None:
    latent = dataclasses.replace(AUDIO, optimizer="latent", hyperparameters={"lr": 0.1, "momentum": 0.9})
    wide = dataclasses.replace(AUDIO, width=128)
    jobs = [_job(1, AUDIO), _job(2, latent), _job(3, AUDIO), _job(4, latent), _job(5, AUDIO)]
    jobs += [_job(6, wide), _job(7, wide), _job(8, AUDIO, early_stopping={"metric": "val_accuracy"})]
    assert _ids(group_jobs(jobs, slots=slots)) == expected


def test_slots_must_be_positive() -> None:
    with pytest.raises(InvalidInputError, match="slots must be at least 1, got 0"):
        group_jobs([_job(1, AUDIO)], slots=0)


@pytest.mark.parametrize(
    ("device", "cuda_available", "together"),
    [(None, False, False), (None, True, True), ("cpu", True, False), ("cuda", False, True), ("cuda:1", True, True)],
)
def test_cifar_trials_batch_only_on_cuda(device: str | None, cuda_available: bool, together: bool) -> None:
    cifar = dataclasses.replace(AUDIO, task="cifar10", device=device)
    assert worth_batching(cifar, cuda_available=cuda_available) is together
    groups = _ids(
        group_jobs([_job(1, cifar), _job(2, dataclasses.replace(cifar, seed=3))], cuda_available=cuda_available)
    )
    assert groups == ([[1, 2]] if together else [[1], [2]])
    # audio trials batch on either device
    assert worth_batching(dataclasses.replace(AUDIO, device=device), cuda_available=cuda_available)
