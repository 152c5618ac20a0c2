"""The single-trial reference for the batched tests: ``train_trial``'s steps, in float64.

``train_trial`` runs float32 only (its splits yield float32 batches); :func:`single_run` takes the same steps
(same seed, model, optimizers, schedules and minibatch order) on a float64 copy of the model, so that with
rounding errors near 1e-16 a batch member and its single trial end with the same binary weights.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from trainers.data import TaskData
from trainers.optim import BinaryOptimizer, HyperparameterDecay, build_optimizers
from trainers.trial import TrialSpec, build_trial_model


def single_run(spec: TrialSpec, data: TaskData, *, order_seed: int | None = None) -> tuple[nn.Module, list[float]]:
    """The model ``spec`` trains to, in float64, and its flip ratio of every epoch.

    ``order_seed`` draws the minibatch order (and augmentation) from another seed than the spec's.
    """
    model = build_trial_model(spec, data).double()
    bnn, adam = build_optimizers(model, spec.optimizer, spec.hyperparameters, real_lr=spec.real_lr)
    assert isinstance(bnn, BinaryOptimizer)
    total = math.ceil(len(data.train) / spec.batch_size) * spec.epochs
    schedules = [HyperparameterDecay(adam, total, spec.decay, key="lr")]
    decay_key = {"filter": "alpha", "latent": "lr"}.get(spec.optimizer)
    if decay_key is not None:
        schedules.append(HyperparameterDecay(bnn, total, spec.decay, key=decay_key))
    generator = torch.Generator().manual_seed(spec.seed if order_seed is None else order_seed)
    flip_ratios = []
    for _ in range(spec.epochs):
        model.train()
        bnn.flips.reset()
        for x, y in data.train.batches(spec.batch_size, shuffle=True, generator=generator, train=True):
            loss = nn.functional.cross_entropy(model(x.double()), y)
            for opt in (bnn, adam):
                opt.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            for opt in (bnn, adam):
                opt.step()
            for schedule in schedules:
                schedule.step()
        flip_ratios.append(bnn.flips.ratio())
    return model, flip_ratios


def binary_signs(w: torch.Tensor, ties: torch.Tensor) -> torch.Tensor:
    """The binary weight of ``w``: its sign, ``ties`` where it is 0."""
    return torch.where(w == 0, ties, torch.sign(w))
