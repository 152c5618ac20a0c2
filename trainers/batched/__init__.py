"""Many trials as one model: K audio networks whose weights carry a leading member dimension.

- :func:`train_batch`: the batched counterpart of ``trainers.trial.train_trial``; member k reproduces the
  single trial with the same spec (seed, data order, hyperparameters), a diverged member fails alone.
- :class:`TrialBatch`: the same, with the model and optimizers reachable (for tests and checkpoints).
- :class:`BatchedAudioFC`: K ``AudioFC`` networks as batched matmuls with per-member batch norm.
- :class:`BatchedFilter`, :class:`BatchedLatentSGD`, :class:`BatchedBop`: the BNN optimizers with ``[K]``
  hyperparameters, counting flips per member (:class:`MemberFlips`).
- :func:`check_batch`, :func:`batch_key`, :data:`BATCH_FIELDS`: which specs can share a batch.
"""

from trainers.batched._loop import BATCH_FIELDS, TrialBatch, batch_key, check_batch, train_batch
from trainers.batched._model import BatchedAudioFC, MemberBatchNorm
from trainers.batched._optim import (
    BatchedBinaryOptimizer,
    BatchedBop,
    BatchedFilter,
    BatchedLatentSGD,
    MemberFlips,
)

__all__ = [
    "BATCH_FIELDS",
    "BatchedAudioFC",
    "BatchedBinaryOptimizer",
    "BatchedBop",
    "BatchedFilter",
    "BatchedLatentSGD",
    "MemberBatchNorm",
    "MemberFlips",
    "TrialBatch",
    "batch_key",
    "check_batch",
    "train_batch",
]
