"""The built-in optimizers' registry entries: the filter, latent-weight SGD, Bop and the frozen control."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from trainers.optim._bop import Bop, BopHyperparameters
from trainers.optim._filter import FilterHyperparameters, FilterOptimizer
from trainers.optim._frozen import FrozenBinary, FrozenHyperparameters
from trainers.optim._latent import LatentHyperparameters, LatentSGD
from trainers.optim._registry import OptimizerEntry, register_optimizer

if TYPE_CHECKING:
    from trainers.batched._optim import BatchedBinaryOptimizer

__all__ = ["BUILTIN_OPTIMIZERS"]

# The batched factories import trainers.batched when a batch is built, not at import: trainers.batched imports
# this package.


def _column(values: Iterable[float]) -> Tensor:
    """One value per member, ``[K]``."""
    return torch.tensor(list(values), dtype=torch.float64)


def _batched_filter(
    params: Sequence[Tensor], members: Sequence[FilterHyperparameters], tie_signs: Sequence[Tensor]
) -> BatchedBinaryOptimizer:
    from trainers.batched._optim import BatchedFilter

    return BatchedFilter(params, _column(m.alpha for m in members), _column(m.gamma for m in members), tie_signs)


def _batched_latent(
    params: Sequence[Tensor], members: Sequence[LatentHyperparameters], tie_signs: Sequence[Tensor]
) -> BatchedBinaryOptimizer:
    from trainers.batched._optim import BatchedLatentSGD

    # A member without clipping clips at infinity when another member of the batch clips.
    clips = any(m.clip is not None for m in members)
    return BatchedLatentSGD(
        params,
        _column(m.lr for m in members),
        _column(m.momentum for m in members),
        _column(m.weight_decay for m in members),
        _column(math.inf if m.clip is None else m.clip for m in members) if clips else None,
    )


def _batched_bop(
    params: Sequence[Tensor], members: Sequence[BopHyperparameters], tie_signs: Sequence[Tensor]
) -> BatchedBinaryOptimizer:
    from trainers.batched._optim import BatchedBop

    return BatchedBop(params, _column(m.threshold for m in members), _column(m.gamma for m in members))


def _batched_frozen(
    params: Sequence[Tensor], members: Sequence[FrozenHyperparameters], tie_signs: Sequence[Tensor]
) -> BatchedBinaryOptimizer:
    from trainers.batched._optim import BatchedFrozen

    return BatchedFrozen(params)


BUILTIN_OPTIMIZERS: tuple[OptimizerEntry[Any], ...] = (
    OptimizerEntry(
        name="filter",
        optimizer=FilterOptimizer,
        hyperparameters=FilterHyperparameters,
        decay_key="alpha",
        binarize=True,
        space="filter",
        batched=_batched_filter,
    ),
    OptimizerEntry(
        name="latent",
        optimizer=LatentSGD,
        hyperparameters=LatentHyperparameters,
        decay_key="lr",
        binarize=False,
        space="latent",
        batched=_batched_latent,
    ),
    OptimizerEntry(
        name="bop",
        optimizer=Bop,
        hyperparameters=BopHyperparameters,
        decay_key=None,
        binarize=True,
        space="bop",
        batched=_batched_bop,
    ),
    # The control: binary weights keep the signs of their random initialization; no search space tunes it.
    OptimizerEntry(
        name="frozen",
        optimizer=FrozenBinary,
        hyperparameters=FrozenHyperparameters,
        decay_key=None,
        binarize=True,
        space=None,
        batched=_batched_frozen,
    ),
)
"""The built-in optimizers, registered in this order when ``trainers.optim`` is imported."""

for _entry in BUILTIN_OPTIMIZERS:
    register_optimizer(_entry)
