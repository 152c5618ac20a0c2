"""Train one trial: a BNN for a task with one BNN optimizer and its hyperparameters, reporting every epoch.

This is the unit of work the tuner runs on a worker. It knows nothing of databases, Ray or Ax: it takes a
``TrialSpec``, calls ``on_epoch`` with an ``EpochPoint`` after every epoch, and returns a ``TrialResult``.

Real-valued parameters (first and last layers, batch norm) are trained with Adam; binary weights with the chosen BNN
optimizer. The decay schedule (cosine by default) acts on the BNN optimizer's step size (its registry entry's
``decay_key``: alpha for the filter optimizer, lr for latent SGD) and on Adam's learning rate, stepped once per
minibatch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from functools import lru_cache

import torch
from torch import nn

from bnn_errors import InvalidInputError, TrainingDivergedError
from trainers.data import Split, TaskData, load_task_data
from trainers.layers import BinaryOptions
from trainers.models import build_model
from trainers.optim import BinaryOptimizer, HyperparameterDecay, build_optimizers, get_optimizer

__all__ = [
    "EpochPoint",
    "TrialResult",
    "TrialSpec",
    "build_trial_model",
    "cached_task_data",
    "evaluate",
    "resolve_device",
    "train_trial",
]


@dataclass(frozen=True)
class TrialSpec:
    """Everything that determines one training run."""

    task: str = "audio"
    optimizer: str = "filter"
    hyperparameters: Mapping[str, float] = field(default_factory=dict)
    binary: BinaryOptions = field(default_factory=BinaryOptions)
    decay: str = "cosine"
    epochs: int = 20
    batch_size: int = 64
    seed: int = 0
    width: int | None = None
    max_train: int | None = None
    data_dir: str | None = None
    device: str | None = None
    real_lr: float = 1e-3
    folds: int = 1
    fold: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise InvalidInputError(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            raise InvalidInputError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.decay not in ("cosine", "linear", "none"):
            raise InvalidInputError(f"decay must be one of cosine, linear, none; got {self.decay!r}")
        if not (self.real_lr > 0 and math.isfinite(self.real_lr)):
            raise InvalidInputError(f"real_lr must be > 0, got {self.real_lr}")
        if self.width is not None and self.width < 1:
            raise InvalidInputError(f"width must be >= 1, got {self.width}")
        if self.max_train is not None and self.max_train < 1:
            raise InvalidInputError(f"max_train must be >= 1, got {self.max_train}")
        if self.folds < 1 or not 0 <= self.fold < self.folds:
            raise InvalidInputError(f"fold must be in [0, folds) with folds >= 1, got fold {self.fold} of {self.folds}")


@dataclass(frozen=True)
class EpochPoint:
    """One point of a trial's learning curve; accuracies are fractions in [0, 1]."""

    epoch: int
    train_loss: float
    train_accuracy: float
    val_accuracy: float
    test_accuracy: float
    flip_ratio: float
    seconds: float

    def metrics(self) -> dict[str, float]:
        """The point's metrics by name, without the epoch number."""
        values = asdict(self)
        del values["epoch"]
        return values


@dataclass(frozen=True)
class TrialResult:
    """The outcome of a finished trial."""

    points: tuple[EpochPoint, ...]
    device: str
    seconds: float
    stopped_early: bool = False

    @property
    def final(self) -> EpochPoint:
        return self.points[-1]

    @property
    def best_val_accuracy(self) -> float:
        return max(p.val_accuracy for p in self.points)

    def summary(self) -> dict[str, object]:
        """Final metrics (last epoch), the best validation accuracy and the per-epoch points, JSON-ready."""
        return {
            **self.final.metrics(),
            "best_val_accuracy": self.best_val_accuracy,
            "epochs": len(self.points),
            "device": self.device,
            "total_seconds": self.seconds,
            "stopped_early": self.stopped_early,
            "points": [asdict(p) for p in self.points],
        }


def resolve_device(device: str | None) -> torch.device:
    """The device to train on: the one asked for, else CUDA when present, else the CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as exc:
        raise InvalidInputError(f"device {device!r} is not a valid torch device") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise InvalidInputError(f"device {device!r} asked for, but CUDA is not available here")
    return resolved


def build_trial_model(spec: TrialSpec, data: TaskData) -> nn.Module:
    """The model ``spec`` trains, initialized as :func:`train_trial` initializes it (global RNG seeded with
    ``spec.seed``), on the CPU. The batched trainer builds every member through this, so that member k starts where
    the single trial would."""
    torch.manual_seed(spec.seed)
    return build_model(
        spec.task,
        num_classes=data.num_classes,
        input_shape=data.input_shape,
        width=spec.width,
        binary=spec.binary,
    )


def cached_task_data(spec: TrialSpec) -> TaskData:
    """The data of the trial's task and fold, loaded once per process for the same arguments.

    A worker process runs many trials of the same task: decode and featurize the data once."""
    return _cached_task_data(spec.task, spec.data_dir, spec.max_train, spec.folds, spec.fold)


# Room for every fold of a 10-fold study.
@lru_cache(maxsize=12)
def _cached_task_data(task: str, data_dir: str | None, max_train: int | None, folds: int, fold: int) -> TaskData:
    return load_task_data(task, data_dir, max_train=max_train, folds=folds, fold=fold)


@torch.no_grad()
def evaluate(model: nn.Module, split: Split, device: torch.device, batch_size: int = 1024) -> float:
    """Accuracy of ``model`` on ``split`` in eval mode (batch-norm running statistics)."""
    model.eval()
    correct = torch.zeros((), dtype=torch.int64, device=device)
    for x, y in split.batches(batch_size, shuffle=False, generator=None, device=device):
        correct += (model(x).argmax(dim=1) == y).sum()
    return int(correct.item()) / len(split)


def _all_finite(model: nn.Module) -> bool:
    """Whether every parameter is finite, in one device reduction (one sync per epoch)."""
    flags = [torch.isfinite(p.detach()).all() for p in model.parameters()]
    return bool(torch.stack(flags).all().item())


def _train_epoch(
    model: nn.Module,
    split: Split,
    optimizers: list[torch.optim.Optimizer],
    schedules: list[HyperparameterDecay],
    spec: TrialSpec,
    generator: torch.Generator,
    device: torch.device,
) -> tuple[float, float]:
    model.train()
    loss_fn = nn.CrossEntropyLoss()
    # Sums stay on the device so the loop never waits for the GPU; one sync per epoch.
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    seen = 0
    for x, y in split.batches(spec.batch_size, shuffle=True, generator=generator, device=device, train=True):
        logits = model(x)
        loss = loss_fn(logits, y)
        for opt in optimizers:
            opt.zero_grad(set_to_none=True)
        loss.backward()
        for opt in optimizers:
            opt.step()
        for schedule in schedules:
            schedule.step()
        loss_sum += loss.detach() * y.shape[0]
        correct += (logits.detach().argmax(dim=1) == y).sum()
        seen += y.shape[0]
    return float(loss_sum.item()) / seen, int(correct.item()) / seen


def train_trial(
    spec: TrialSpec,
    on_epoch: Callable[[EpochPoint], bool | None] | None = None,
    *,
    data: TaskData | None = None,
) -> TrialResult:
    """Train the task's BNN as ``spec`` says, calling ``on_epoch`` after every epoch.

    If ``on_epoch`` returns True the run stops after that epoch (early stopping); the result says so.

    Raises:
        InvalidInputError: unknown task or optimizer, hyperparameters out of range, a bad device.
        DataNotFoundError: the task's data set is missing.
        TrainingDivergedError: the training loss became NaN or infinite.
    """
    device = resolve_device(spec.device)
    data = data if data is not None else cached_task_data(spec)
    model = build_trial_model(spec, data).to(device)
    optimizers = build_optimizers(model, spec.optimizer, spec.hyperparameters, real_lr=spec.real_lr)
    bnn_optimizer, real_optimizer = optimizers
    assert isinstance(bnn_optimizer, BinaryOptimizer)
    steps_per_epoch = math.ceil(len(data.train) / spec.batch_size)
    total_steps = steps_per_epoch * spec.epochs
    schedules = [HyperparameterDecay(real_optimizer, total_steps, spec.decay, key="lr")]
    decay_key = get_optimizer(spec.optimizer).decay_key
    if decay_key is not None:
        schedules.append(HyperparameterDecay(bnn_optimizer, total_steps, spec.decay, key=decay_key))
    generator = torch.Generator().manual_seed(spec.seed)

    points: list[EpochPoint] = []
    started = time.perf_counter()
    for epoch in range(1, spec.epochs + 1):
        epoch_start = time.perf_counter()
        bnn_optimizer.flips.reset()
        train_loss, train_accuracy = _train_epoch(model, data.train, optimizers, schedules, spec, generator, device)
        # Sign activations can hide a divergence: NaN weights still give finite +-1 outputs and a finite loss.
        parameters_finite = _all_finite(model)
        if not (math.isfinite(train_loss) and parameters_finite):
            raise TrainingDivergedError(
                epoch=epoch, step=epoch * steps_per_epoch, loss=train_loss, parameters_finite=parameters_finite
            )
        point = EpochPoint(
            epoch=epoch,
            train_loss=train_loss,
            train_accuracy=train_accuracy,
            val_accuracy=evaluate(model, data.val, device),
            test_accuracy=evaluate(model, data.test, device),
            flip_ratio=bnn_optimizer.flips.ratio(),
            seconds=time.perf_counter() - epoch_start,
        )
        points.append(point)
        if on_epoch is not None and on_epoch(point) and epoch < spec.epochs:
            return TrialResult(
                points=tuple(points), device=str(device), seconds=time.perf_counter() - started, stopped_early=True
            )
    return TrialResult(points=tuple(points), device=str(device), seconds=time.perf_counter() - started)
