"""Batched trials on a CUDA device: each member of a batch ends where its own trial on the same GPU ends.

A device check, not part of ``make test`` (CI has no GPU): run it on a CUDA machine with
``python3 -m pytest benchmarks/device_checks`` (the data under ``$BNN_TUNE_DATA``). GPU convolutions and
matmuls pick their algorithms per shape, so a batch and its single trials round differently: the check is
the float32 one of the CPU suite, mean final accuracy within half a point over several members.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from trainers.batched import train_batch
from trainers.data import TaskData, TensorSplit, load_task_data
from trainers.trial import TrialResult, TrialSpec, train_trial

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="a device check: needs a CUDA device")


def _mean_gaps(specs: list[TrialSpec], data: TaskData) -> tuple[float, float]:
    batched = train_batch(specs, data=data)
    val, test = [], []
    for spec, result in zip(specs, batched, strict=True):
        single = train_trial(spec, data=data)
        assert isinstance(result, TrialResult) and result.device.startswith("cuda")
        val.append(result.final.val_accuracy - single.final.val_accuracy)
        test.append(result.final.test_accuracy - single.final.test_accuracy)
    return sum(val) / len(val), sum(test) / len(test)


@pytest.mark.parametrize("optimizer", ["filter", "latent"])
def test_batched_birealnet_members_match_their_trials_on_cuda(optimizer: str) -> None:
    data = load_task_data("cifar10", max_train=2048)
    assert isinstance(data.val, TensorSplit) and isinstance(data.test, TensorSplit)
    data = dataclasses.replace(data, val=data.val.sample(2000), test=data.test.sample(2000))
    hyperparameters = {
        "filter": [{"alpha": 1e-3, "gamma": 1e-3}, {"alpha": 1e-4, "gamma": 1e-2}],
        "latent": [
            {"lr": 0.01, "momentum": 0.9, "weight_decay": 1e-3},
            {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.0},
        ],
    }[optimizer]
    specs = [
        TrialSpec(
            task="cifar10", optimizer=optimizer, hyperparameters=h, epochs=3, batch_size=128, seed=seed, device="cuda"
        )
        for seed in range(4)
        for h in hyperparameters
    ]
    val_gap, test_gap = _mean_gaps(specs, data)
    assert abs(val_gap) <= 0.005 and abs(test_gap) <= 0.005


def test_batched_audio_members_match_their_trials_on_cuda() -> None:
    data = load_task_data("audio")
    specs = [
        TrialSpec(
            task="audio",
            optimizer="filter",
            hyperparameters={"alpha": a, "gamma": 0.1},
            epochs=5,
            width=256,
            seed=s,
            device="cuda",
        )
        for s in range(4)
        for a in (1e-3, 1e-2)
    ]
    val_gap, test_gap = _mean_gaps(specs, data)
    assert abs(val_gap) <= 0.005 and abs(test_gap) <= 0.005
