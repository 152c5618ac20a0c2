"""Train K trials as one batched model (:data:`BATCHED_MODELS`): the batched ``trainers.trial.train_trial``.

Member k is initialized exactly as the single path initializes a trial with its seed (the single network
is built under ``torch.manual_seed(seed)`` with its optimizers, then copied into slot k), draws its
minibatches from ``torch.Generator().manual_seed(seed)`` as the single path does, and is updated by the same
arithmetic: so it follows ``train_trial`` up to floating-point rounding (in float64, to the same binary
weights).
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from bnn_errors import InvalidInputError, TrainingDivergedError
from trainers.batched._audio import BatchedAudioFC
from trainers.batched._birealnet import BatchedBiRealNet20
from trainers.batched._members import BatchedModel, MemberSetup
from trainers.batched._optim import BatchedBinaryOptimizer, BatchedMixed, exact_dtype, member_views
from trainers.data import Split, TaskData, TensorSplit
from trainers.optim import (
    FilterOptimizer,
    HyperparameterDecay,
    build_optimizers,
    decay_factor,
    get_optimizer,
    list_optimizers,
    split_parameters,
)
from trainers.trial import EpochPoint, TrialResult, TrialSpec, build_trial_model, cached_task_data, resolve_device

__all__ = [
    "BATCHED_MODELS",
    "BATCHED_TASKS",
    "BATCH_FIELDS",
    "TrialBatch",
    "batch_key",
    "check_batch",
    "train_batch",
    "worth_batching",
]

BATCH_FIELDS: tuple[str, ...] = (
    "task",
    "width",
    "epochs",
    "batch_size",
    "decay",
    "real_lr",
    "max_train",
    "folds",
    "fold",
    "data_dir",
    "device",
)
"""The ``TrialSpec`` fields all members of a batch share (the same data split among them); they may differ in
optimizer, hyperparameters, binary options and seed (a batch of several optimizers updates each run of consecutive
members with its own). Every member's optimizer must have a batched counterpart (``OptimizerEntry.batched``)."""

BATCHED_MODELS: dict[str, type[BatchedModel]] = {"audio": BatchedAudioFC, "cifar10": BatchedBiRealNet20}
"""The batched model of each task that has one."""
BATCHED_TASKS: tuple[str, ...] = tuple(BATCHED_MODELS)
"""The tasks whose trials can train as one batch."""
_BATCHED_ON_CPU = frozenset({"audio"})
_FUSED_ADAM_DEVICES = frozenset({"cpu", "cuda", "mps", "xpu"})


def worth_batching(spec: TrialSpec, *, cuda_available: bool) -> bool:
    """Whether trials like ``spec`` should train as one batch rather than one by one.

    AudioFC trials gain everywhere: their small matmuls leave any device idle. BiRealNet20 trials batch only
    on CUDA (the spec's device, or CUDA where ``cuda_available`` and the spec names none): on CPU one
    network's convolutions already keep a core busy, and the grouped convolutions of a batch run slower
    than the same convolutions one network at a time (see README, "Batched trials"). Trials of an optimizer
    without a batched counterpart, or of an unknown one (which then fails alone, as a single trial), never batch.
    """
    if spec.task not in BATCHED_MODELS or not _has_batched(spec.optimizer):
        return False
    if spec.task in _BATCHED_ON_CPU:
        return True
    return spec.device.startswith("cuda") if spec.device is not None else cuda_available


def _has_batched(optimizer: str) -> bool:
    """Whether ``optimizer`` is registered with a batched counterpart."""
    return any(entry.name == optimizer and entry.batched is not None for entry in list_optimizers())


def batch_key(spec: TrialSpec) -> tuple[object, ...]:
    """The values of :data:`BATCH_FIELDS` of ``spec``: specs with equal keys can train as one batch."""
    return tuple(getattr(spec, name) for name in BATCH_FIELDS)


def check_batch(specs: Sequence[TrialSpec]) -> None:
    """Check that ``specs`` can train as one batch.

    Raises:
        InvalidInputError: no specs, a task without a batched model, an unknown optimizer or one without a
            batched counterpart, or members that differ in a field of :data:`BATCH_FIELDS` (the message names it).
    """
    if not specs:
        raise InvalidInputError("a batch needs at least one trial spec")
    first = specs[0]
    if first.task not in BATCHED_MODELS:
        raise InvalidInputError(f"task {first.task!r} has no batched model; batched tasks: {', '.join(BATCHED_TASKS)}")
    for k, spec in enumerate(specs):
        if get_optimizer(spec.optimizer).batched is None:
            batched = ", ".join(entry.name for entry in list_optimizers() if entry.batched is not None)
            raise InvalidInputError(
                f"optimizer {spec.optimizer!r} of member {k} has no batched counterpart; batched optimizers: {batched}"
            )
    for k, spec in enumerate(specs[1:], start=1):
        for name in BATCH_FIELDS:
            if getattr(spec, name) != getattr(first, name):
                raise InvalidInputError(
                    f"members differ in {name}: member 0 has {name}={getattr(first, name)!r}, "
                    f"member {k} has {getattr(spec, name)!r}"
                )


def _build(
    specs: Sequence[TrialSpec], data: TaskData, device: torch.device, dtype: torch.dtype
) -> tuple[BatchedModel, BatchedBinaryOptimizer]:
    """The batched model and BNN optimizer, member k set up as ``train_trial`` sets up ``specs[k]``."""
    model: BatchedModel | None = None
    tie_signs: list[Tensor] = []
    for k, spec in enumerate(specs):
        single = build_trial_model(spec, data).to(device)
        # Validates the hyperparameters, binarizes where the optimizer's entry says so, and draws from the global
        # RNG exactly as the single path does (the filter's tie-sign seed).
        bnn = build_optimizers(single, spec.optimizer, spec.hyperparameters, real_lr=spec.real_lr)[0]
        if model is None:
            # Binarized members (filter, Bop, frozen) hold weights of -1 and +1, which are their own signs under any
            # STE clipping or scaling: only latent members need the sign, and only theirs use their options.
            latent = [not get_optimizer(s.optimizer).binarize for s in specs]
            setup = MemberSetup(
                ste_clip=tuple(s.binary.ste_clip and is_latent for s, is_latent in zip(specs, latent, strict=True)),
                scaling=tuple(s.binary.scaling and is_latent for s, is_latent in zip(specs, latent, strict=True)),
                sign_weights=not any(latent),
                device=device,
                dtype=dtype,
                sample_shape=data.input_shape,
            )
            model = BATCHED_MODELS[spec.task].like(single, setup)
            tie_signs = [torch.empty_like(p) for p in model.binary_weights()]
        model.load_member(k, single)
        if isinstance(bnn, FilterOptimizer):
            # The state the single optimizer creates at its first step, in its parameter order: the tie signs
            # are drawn from one generator in sequence.
            with torch.no_grad():
                for ties, p in zip(tie_signs, split_parameters(single)[0], strict=True):
                    ties[k].copy_(bnn.tie_signs(p))
    assert model is not None
    return model, _bnn_optimizer(specs, model, tie_signs)


def _bnn_optimizer(specs: Sequence[TrialSpec], model: BatchedModel, tie_signs: list[Tensor]) -> BatchedBinaryOptimizer:
    """The members' BNN optimizer: one batched optimizer, or a :class:`BatchedMixed` with one part per run of
    consecutive members of the same optimizer."""
    params = model.binary_weights()
    runs = _optimizer_runs(specs)
    if len(runs) == 1:
        return _one_optimizer(specs, params, tie_signs)
    parts = [
        (
            start,
            _one_optimizer(specs[start:stop], member_views(params, start, stop), [t[start:stop] for t in tie_signs]),
        )
        for start, stop in runs
    ]
    return BatchedMixed(params, parts)


def _optimizer_runs(specs: Sequence[TrialSpec]) -> list[tuple[int, int]]:
    """``[start, stop)`` of every run of consecutive specs with the same optimizer, in order."""
    runs: list[tuple[int, int]] = []
    start = 0
    for _, run in itertools.groupby(specs, key=lambda spec: spec.optimizer):
        stop = start + sum(1 for _ in run)
        runs.append((start, stop))
        start = stop
    return runs


def _one_optimizer(
    specs: Sequence[TrialSpec], params: Sequence[Tensor], tie_signs: Sequence[Tensor]
) -> BatchedBinaryOptimizer:
    """The batched optimizer of ``specs``, which share one optimizer, on their weights ``params``.

    Raises:
        InvalidInputError: the optimizer is unknown or has no batched counterpart.
    """
    entry = get_optimizer(specs[0].optimizer)
    if entry.batched is None:
        raise InvalidInputError(f"optimizer {entry.name!r} has no batched counterpart")
    return entry.batched(params, [entry.parse(s.hyperparameters) for s in specs], tie_signs)


class _TrainFeed:
    """One epoch of training minibatches for K members: ``[K, batch, in]``, each member in its own order, or
    one shared ``[batch, in]``.

    A :class:`TensorSplit` without augmentation or normalization is moved to the device once and gathered with
    one index per step; any other split is read through its own ``batches`` once per member.
    """

    def __init__(
        self,
        split: Split,
        generators: list[torch.Generator],
        batch_size: int,
        sample_shape: tuple[int, ...],
        device: torch.device,
        dtype: torch.dtype,
    ) -> None:
        self.split = split
        self.sample_shape = sample_shape
        self.generators = generators
        self.batch_size = batch_size
        self.device = device
        self.dtype = dtype
        self._tensors: tuple[Tensor, Tensor] | None = None
        if isinstance(split, TensorSplit) and split.augment is None and split.normalize is None:
            # The single path casts every batch to float32; the cast to ``dtype`` from there is exact.
            x = split.x.to(device=device, dtype=torch.float32).to(dtype)
            x = x.reshape(len(x), *sample_shape)
            self._tensors = (x, split.y.to(device))

    def epoch(self) -> Iterator[tuple[Tensor, Tensor]]:
        """The epoch's ``(x, y)``: x ``[K, batch, in]`` (``[batch, in]`` with one generator), y likewise."""
        if self._tensors is None:
            yield from self._read_batches()
            return
        x, y = self._tensors
        n = x.shape[0]
        order = torch.stack([torch.randperm(n, generator=g) for g in self.generators]).to(self.device)
        shared = len(self.generators) == 1
        for start in range(0, n, self.batch_size):
            idx = order[:, start : start + self.batch_size]
            if shared:
                yield x.index_select(0, idx[0]), y.index_select(0, idx[0])
            else:
                flat = idx.reshape(-1)
                yield x.index_select(0, flat).view(*idx.shape, -1), y.index_select(0, flat).view(idx.shape)

    def _read_batches(self) -> Iterator[tuple[Tensor, Tensor]]:
        streams = [
            self.split.batches(self.batch_size, shuffle=True, generator=g, device=self.device, train=True)
            for g in self.generators
        ]
        for members in zip(*streams, strict=True):
            xs = [x.reshape(len(x), *self.sample_shape).to(self.dtype) for x, _ in members]
            if len(members) == 1:
                yield xs[0], members[0][1]
            else:
                yield torch.stack(xs), torch.stack([y for _, y in members])


@torch.no_grad()
def _correct(model: BatchedModel, split: Split, device: torch.device, batch_size: int = 256) -> Tensor:
    """Correct predictions per member on ``split`` in eval mode (batch-norm running statistics), on device."""
    model.eval()
    correct = torch.zeros(model.members, dtype=torch.int64, device=device)
    for x, y in split.batches(batch_size, shuffle=False, generator=None, device=device):
        correct += (model(x.reshape(len(x), *model.sample_shape).to(model.dtype)).argmax(dim=1) == y).sum(dim=1)
    return correct


def _members_finite(model: BatchedModel) -> Tensor:
    """Per member, whether every one of its parameters is finite: ``[K]`` booleans on the device."""
    flags = [torch.isfinite(p.detach()).flatten(1).all(dim=1) for p in model.parameters()]
    return torch.stack(flags).all(dim=0)


class TrialBatch:
    """K trials of one task and architecture set up as one batched model, ready to train.

    Building it initializes every member as ``train_trial`` initializes its spec; :meth:`run` trains them.
    The model and optimizers stay reachable for inspection (``model``, ``optimizer``, ``adam``).

    Args: as :func:`train_batch`.

    Raises:
        InvalidInputError: specs that cannot form a batch, hyperparameters out of range, a bad device, a
            non-floating ``dtype``.
        DataNotFoundError: the task's data set is missing.
    """

    def __init__(
        self,
        specs: Sequence[TrialSpec],
        *,
        data: TaskData | None = None,
        shared_order: bool = False,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        check_batch(specs)
        if not dtype.is_floating_point:
            raise InvalidInputError(f"dtype must be a floating point type, got {dtype}")
        self.specs = list(specs)
        first = self.specs[0]
        self.device = resolve_device(first.device)
        self.data = data if data is not None else cached_task_data(first)
        self.model, self.optimizer = _build(self.specs, self.data, self.device, dtype)
        fused = True if self.device.type in _FUSED_ADAM_DEVICES else None
        # Adam is elementwise: on the stacked tensors it is each member's Adam, as all share lr and schedule.
        self.adam = torch.optim.Adam(self.model.real_parameters(), lr=first.real_lr, fused=fused)
        self.steps_per_epoch = math.ceil(len(self.data.train) / first.batch_size)
        self.total_steps = self.steps_per_epoch * first.epochs
        self.adam_decay = HyperparameterDecay(self.adam, self.total_steps, first.decay, key="lr")
        seeds = [first.seed] if shared_order else [s.seed for s in self.specs]
        generators = [torch.Generator().manual_seed(seed) for seed in seeds]
        self._feed = _TrainFeed(
            self.data.train, generators, first.batch_size, self.model.sample_shape, self.device, dtype
        )

    def run(
        self, on_epoch: Callable[[int, EpochPoint], None] | None = None
    ) -> list[TrialResult | TrainingDivergedError]:
        """Train every member for its epochs; see :func:`train_batch`. Call once."""
        members = len(self.specs)
        points: list[list[EpochPoint]] = [[] for _ in self.specs]
        failures: dict[int, TrainingDivergedError] = {}
        started = time.perf_counter()
        for epoch in range(1, self.specs[0].epochs + 1):
            epoch_start = time.perf_counter()
            train_loss, train_accuracy, finite, val_accuracy, test_accuracy = self._epoch()
            flip_ratios = self.optimizer.flips.ratios()
            seconds = time.perf_counter() - epoch_start
            for k in range(members):
                if k in failures:
                    continue
                if not (math.isfinite(train_loss[k]) and finite[k] == 1.0):
                    failures[k] = TrainingDivergedError(
                        epoch=epoch,
                        step=epoch * self.steps_per_epoch,
                        loss=train_loss[k],
                        parameters_finite=finite[k] == 1.0,
                    )
                    continue
                point = EpochPoint(
                    epoch=epoch,
                    train_loss=train_loss[k],
                    train_accuracy=train_accuracy[k],
                    val_accuracy=val_accuracy[k],
                    test_accuracy=test_accuracy[k],
                    flip_ratio=flip_ratios[k],
                    seconds=seconds,
                )
                points[k].append(point)
                if on_epoch is not None:
                    on_epoch(k, point)
            if len(failures) == members:
                break
        total = time.perf_counter() - started
        device = str(self.device)
        return [
            failures[k] if k in failures else TrialResult(points=tuple(points[k]), device=device, seconds=total)
            for k in range(members)
        ]

    def _epoch(self) -> list[list[float]]:
        """Train one epoch; per member: train loss and accuracy, finite (1.0 or 0.0), val and test accuracy.

        Everything stays on the device until one read at the end.
        """
        model, spec, device = self.model, self.specs[0], self.device
        self.optimizer.flips.reset()
        model.train()
        members = model.members
        loss_sum = torch.zeros(members, dtype=model.dtype, device=device)
        correct = torch.zeros(members, dtype=torch.int64, device=device)
        seen = 0
        for x, y in self._feed.epoch():
            logits = model(x)
            targets = y.expand(members, -1) if y.dim() == 1 else y
            # Each member's loss is the mean over its own minibatch; their sum gives each member its own
            # gradient.
            losses = F.cross_entropy(logits, targets, reduction="none").mean(dim=1)
            model.zero_grad(set_to_none=True)
            losses.sum().backward()  # type: ignore[no-untyped-call]
            # The single path steps the BNN optimizer at the value its schedule set after the previous step.
            self.optimizer.step(decay_factor(spec.decay, self.adam_decay.t, self.total_steps))
            self.adam.step()
            self.adam_decay.step()
            batch = targets.shape[1]
            loss_sum += losses.detach() * batch
            correct += (logits.detach().argmax(dim=1) == targets).sum(dim=1)
            seen += batch
        exact = exact_dtype(device)
        stats = torch.stack(
            [
                loss_sum.to(exact) / seen,
                correct.to(exact) / seen,
                _members_finite(model).to(exact),
                _correct(model, self.data.val, device).to(exact) / len(self.data.val),
                _correct(model, self.data.test, device).to(exact) / len(self.data.test),
            ]
        )
        return stats.tolist()  # type: ignore[no-any-return]


def train_batch(
    specs: Sequence[TrialSpec],
    on_epoch: Callable[[int, EpochPoint], None] | None = None,
    *,
    data: TaskData | None = None,
    shared_order: bool = False,
    dtype: torch.dtype = torch.float32,
) -> list[TrialResult | TrainingDivergedError]:
    """Train the trials ``specs`` together; element k of the result is trial k's result or its divergence.

    ``on_epoch(k, point)`` is called after every epoch for each member k still training, in member order.

    Divergence is checked per member at the end of every epoch, as ``train_trial`` checks it (loss and
    parameters finite). A diverged member fails alone: its slot is masked out, not removed, so it keeps
    stepping on its non-finite values, which reach no other member (members share no arithmetic), and its
    numbers are no longer read; its result is the ``TrainingDivergedError`` the single path would raise.

    Every member's ``EpochPoint.seconds`` and ``TrialResult.seconds`` are the batch's wall-clock time: the
    members train at once.

    Args:
        specs: one spec per member; they must agree on :data:`BATCH_FIELDS` (see :func:`check_batch`).
        on_epoch: called with the member's index and its point after every epoch.
        data: the task's data; by default loaded (and cached) as ``train_trial`` loads it.
        shared_order: common random numbers: every member sees the same minibatches, in the order drawn from
            ``specs[0].seed``; the first layer is then one wide matmul instead of K small ones. Member 0
            still reproduces its single trial; the others see another data order than their own.
        dtype: floating point type of the weights and activations (float64 for exact comparisons).

    Raises:
        InvalidInputError: specs that cannot form a batch, hyperparameters out of range, a bad device, a
            non-floating ``dtype``.
        DataNotFoundError: the task's data set is missing.
    """
    return TrialBatch(specs, data=data, shared_order=shared_order, dtype=dtype).run(on_epoch)
