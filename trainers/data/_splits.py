"""The split interface every task's data goes through, its in-memory implementation, and the task bundle."""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from bnn_errors import InvalidInputError

__all__ = ["Augment", "Normalize", "Split", "TaskData", "TensorSplit", "resolve_device"]

Augment = Callable[[Tensor, "torch.Generator | None"], Tensor]
Normalize = Callable[[Tensor], Tensor]


def resolve_device(device: torch.device | str) -> torch.device:
    """``device`` with an explicit index for CUDA, so that "cuda" and "cuda:0" compare equal."""
    dev = torch.device(device)
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", torch.cuda.current_device())
    return dev


def check_batch_size(batch_size: int) -> None:
    """Reject a batch size below 1.

    Raises:
        InvalidInputError: ``batch_size`` is not a positive int.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidInputError(f"batch_size must be a positive int, got {batch_size!r}")


def permutation(n: int, generator: torch.Generator | None) -> Tensor:
    """A random permutation of range(n) drawn from ``generator`` (on the generator's own device)."""
    device = generator.device if generator is not None else torch.device("cpu")
    return torch.randperm(n, generator=generator, device=device)


class Split(abc.ABC):
    """One split (train, validation or test) of a task's data, read in mini-batches.

    Invariants every implementation keeps:

    - one call to :meth:`batches` is one epoch: every example is yielded exactly once;
    - ``shuffle=True`` orders examples by a permutation drawn from ``generator`` (the global RNG when None),
      so equal generator states give equal orders; ``shuffle=False`` keeps the split's fixed order;
    - the last, partial batch is kept (``ceil(len / batch_size)`` batches), so evaluation sees every example;
    - ``x`` is float32 and ``y`` int64 with values in ``[0, num_classes)``, both on ``device``;
    - ``train=True`` applies the split's training augmentation (if it has one), drawing from ``generator``;
      ``train=False`` is deterministic.
    """

    @abc.abstractmethod
    def __len__(self) -> int:
        """The number of examples."""

    @property
    @abc.abstractmethod
    def num_classes(self) -> int:
        """The number of classes; labels lie in ``[0, num_classes)``."""

    @abc.abstractmethod
    def batches(
        self,
        batch_size: int,
        *,
        shuffle: bool,
        generator: torch.Generator | None,
        device: torch.device | str = "cpu",
        train: bool = False,
    ) -> Iterator[tuple[Tensor, Tensor]]:
        """One epoch of ``(x, y)`` mini-batches on ``device`` (see the class docstring for the guarantees).

        Raises:
            InvalidInputError: ``batch_size`` is below 1.
            CorruptDataError: a lazily read file cannot be decoded.
        """


class TensorSplit(Split):
    """A split held in memory as two tensors; batches are slices of a seeded permutation.

    The whole split is moved to the requested device once and kept there, so GPU epochs do not copy it again
    (only the most recently used device is kept). Image splits may hold uint8 ``x`` and convert per batch with
    ``normalize``; without ``normalize`` ``x`` is only cast to float32.

    Args:
        x: the inputs, first dimension the example.
        y: integer labels in ``[0, num_classes)``, one per example.
        num_classes: the number of classes.
        augment: training augmentation ``(x_batch, generator) -> x_batch``, applied before ``normalize`` on
            the stored dtype (so a padded crop of uint8 images pads with black, as the usual recipe does).
        normalize: ``x_batch -> float32 x_batch`` applied to every batch.

    Raises:
        InvalidInputError: the shapes disagree, ``y`` is not integer, or a label is out of range.
    """

    def __init__(
        self,
        x: Tensor,
        y: Tensor,
        num_classes: int,
        augment: Augment | None = None,
        normalize: Normalize | None = None,
    ) -> None:
        if num_classes < 1:
            raise InvalidInputError(f"num_classes must be >= 1, got {num_classes}")
        if x.ndim < 1 or y.ndim != 1 or x.shape[0] != y.shape[0]:
            raise InvalidInputError(f"x and y must have the same length: x {tuple(x.shape)}, y {tuple(y.shape)}")
        if y.dtype.is_floating_point or y.dtype.is_complex or y.dtype == torch.bool:
            raise InvalidInputError(f"y must hold integer labels, got {y.dtype}")
        if y.numel() and (int(y.min()) < 0 or int(y.max()) >= num_classes):
            raise InvalidInputError(f"labels must lie in [0, {num_classes}), got [{int(y.min())}, {int(y.max())}]")
        self.x = x
        self.y = y.to(torch.int64)
        self._num_classes = num_classes
        self.augment = augment
        self.normalize = normalize
        self._placed: tuple[torch.device, Tensor, Tensor] | None = None

    def __len__(self) -> int:
        return int(self.y.shape[0])

    @property
    def num_classes(self) -> int:
        return self._num_classes

    def sample(self, n: int, seed: int = 0) -> TensorSplit:
        """At most ``n`` examples drawn without replacement by a permutation seeded with ``seed``, with this
        split's augmentation and normalization (a random sample, not the head: stored splits may be ordered by
        class). The whole split where it holds ``n`` or fewer.

        Raises:
            InvalidInputError: ``n`` is below 1.
        """
        if n < 1:
            raise InvalidInputError(f"a sample needs n >= 1, got {n}")
        if len(self) <= n:
            return self
        keep = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))[:n]
        return TensorSplit(self.x[keep], self.y[keep], self.num_classes, augment=self.augment, normalize=self.normalize)

    def batches(
        self,
        batch_size: int,
        *,
        shuffle: bool,
        generator: torch.Generator | None,
        device: torch.device | str = "cpu",
        train: bool = False,
    ) -> Iterator[tuple[Tensor, Tensor]]:
        """One epoch of ``(x, y)`` mini-batches on ``device``; the last partial batch is kept.

        Raises:
            InvalidInputError: ``batch_size`` is below 1.
        """
        check_batch_size(batch_size)
        x, y = self._on(resolve_device(device))
        n = len(self)
        order = permutation(n, generator).to(x.device) if shuffle else None
        for start in range(0, n, batch_size):
            if order is None:
                xb, yb = x[start : start + batch_size], y[start : start + batch_size]
            else:
                idx = order[start : start + batch_size]
                xb, yb = x.index_select(0, idx), y.index_select(0, idx)
            if train and self.augment is not None:
                xb = self.augment(xb, generator)
            xb = self.normalize(xb) if self.normalize is not None else xb
            yield xb.to(torch.float32), yb

    def _on(self, device: torch.device) -> tuple[Tensor, Tensor]:
        if self.x.device == device:
            return self.x, self.y
        if self._placed is None or self._placed[0] != device:
            self._placed = (device, self.x.to(device), self.y.to(device))
        return self._placed[1], self._placed[2]


@dataclass(frozen=True)
class TaskData:
    """A task's three splits with what a model needs to know about them.

    ``description`` is a one-line summary for logs and reports, e.g. "FSDD 8 kHz, 2400/300/300, 40x32
    log-mel".

    Raises:
        InvalidInputError: a split's ``num_classes`` differs from ``num_classes``.
    """

    train: Split
    val: Split
    test: Split
    num_classes: int
    input_shape: tuple[int, ...]
    description: str

    def __post_init__(self) -> None:
        for name in ("train", "val", "test"):
            split: Split = getattr(self, name)
            if split.num_classes != self.num_classes:
                raise InvalidInputError(
                    f"{name} split has {split.num_classes} classes, the task has {self.num_classes}"
                )
