"""Many trials as one model: K networks whose weights carry a leading member dimension.

- :func:`train_batch`: the batched counterpart of ``trainers.trial.train_trial``; member k reproduces the
  single trial with the same spec (seed, data order, hyperparameters), a diverged member fails alone.
- :class:`TrialBatch`: the same, with the model and optimizers reachable (for tests and checkpoints).
- :class:`BatchedAudioFC`: K ``AudioFC`` networks as batched matmuls with per-member batch norm.
- :class:`BatchedBiRealNet20`: K ``BiRealNet20`` networks as grouped convolutions.
- :class:`BatchedModel`: what both share, built by ``like(single, MemberSetup(...))`` (:data:`BATCHED_MODELS`
  names the model of each task).
- :class:`BatchedFilter`, :class:`BatchedLatentSGD`, :class:`BatchedBop`, :class:`BatchedFrozen`: the BNN
  optimizers with ``[K]`` hyperparameters, counting flips per member (:class:`MemberFlips`);
  :class:`BatchedMixed`: a batch of several of them, each on its members' slices (:func:`member_views`).
- :func:`check_batch`, :func:`batch_key`, :data:`BATCH_FIELDS`: which specs can share a batch;
  :func:`worth_batching`: which gain from it where they run.
"""

from trainers.batched._audio import BatchedAudioFC
from trainers.batched._birealnet import BatchedBiRealNet20
from trainers.batched._loop import (
    BATCH_FIELDS,
    BATCHED_MODELS,
    BATCHED_TASKS,
    TrialBatch,
    batch_key,
    check_batch,
    train_batch,
    worth_batching,
)
from trainers.batched._members import BatchedModel, MemberBatchNorm, MemberBatchNorm2d, MemberSetup
from trainers.batched._optim import (
    BatchedBinaryOptimizer,
    BatchedBop,
    BatchedFilter,
    BatchedFrozen,
    BatchedLatentSGD,
    BatchedMixed,
    MemberFlips,
    member_views,
)

__all__ = [
    "BATCHED_MODELS",
    "BATCHED_TASKS",
    "BATCH_FIELDS",
    "BatchedAudioFC",
    "BatchedBiRealNet20",
    "BatchedModel",
    "BatchedBinaryOptimizer",
    "BatchedBop",
    "BatchedFilter",
    "BatchedFrozen",
    "BatchedLatentSGD",
    "BatchedMixed",
    "MemberBatchNorm",
    "MemberBatchNorm2d",
    "MemberSetup",
    "MemberFlips",
    "TrialBatch",
    "batch_key",
    "check_batch",
    "member_views",
    "train_batch",
    "worth_batching",
]
