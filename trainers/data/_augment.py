"""Batched image augmentation and normalization on tensors (they run on whatever device the batch is on).

Both are small classes rather than closures so that a split holding them can be pickled (e.g. sent to a
worker).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from bnn_errors import InvalidInputError

__all__ = [
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "ChannelNormalize",
    "RandomCropFlip",
]

# Per-channel statistics of the CIFAR-10 training set (population std), and the usual ImageNet figures.
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class RandomCropFlip:
    """Zero-pad by ``padding`` pixels, take a random crop of the original size, and flip half the images.

    Works on a whole ``(batch, channels, height, width)`` tensor of any dtype in one gather; the offsets and
    flips are drawn from ``generator`` (on its own device) so a seeded generator reproduces them.

    Raises:
        InvalidInputError: ``padding`` is negative (at construction) or the batch is not 4-D (at call).
    """

    def __init__(self, padding: int = 4) -> None:
        if padding < 0:
            raise InvalidInputError(f"padding must be >= 0, got {padding}")
        self.padding = padding

    def __call__(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        if x.ndim != 4:
            raise InvalidInputError(f"expected a (batch, channels, height, width) tensor, got {tuple(x.shape)}")
        b, _, h, w = x.shape
        p = self.padding
        rng_device = generator.device if generator is not None else torch.device("cpu")
        offsets = torch.randint(0, 2 * p + 1, (2, b), generator=generator, device=rng_device).to(x.device)
        flips = (torch.rand(b, generator=generator, device=rng_device) < 0.5).to(x.device)
        padded = F.pad(x, (p, p, p, p)).permute(0, 2, 3, 1)  # (b, h + 2p, w + 2p, c)
        rows = offsets[0, :, None] + torch.arange(h, device=x.device)
        cols = offsets[1, :, None] + torch.arange(w, device=x.device)
        # A horizontal flip of the crop is the same gather with its columns reversed.
        cols = torch.where(flips[:, None], cols.flip(1), cols)
        batch = torch.arange(b, device=x.device)[:, None, None]
        return padded[batch, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2).contiguous()


class ChannelNormalize:
    """``(x / scale - mean) / std`` per channel, returning float32; ``scale=255`` maps uint8 pixels to [0, 1].

    Raises:
        InvalidInputError: ``mean`` and ``std`` differ in length or a std is not positive.
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float], scale: float = 255.0) -> None:
        if len(mean) != len(std) or any(s <= 0 for s in std):
            raise InvalidInputError(f"need one positive std per mean, got mean {mean}, std {std}")
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        self.scale = float(scale)
        self._stats: dict[torch.device, tuple[Tensor, Tensor]] = {}

    def __call__(self, x: Tensor) -> Tensor:
        if x.device not in self._stats:
            shape = (1, len(self.mean), 1, 1)
            mean = torch.tensor(self.mean, device=x.device).view(shape)
            std = torch.tensor(self.std, device=x.device).view(shape)
            # Fold the pixel scale into the affine map: one multiply-add per element.
            self._stats[x.device] = (1.0 / (self.scale * std), mean / std)
        a, b = self._stats[x.device]
        return x.to(torch.float32) * a - b

    def __getstate__(self) -> dict[str, object]:
        # Tensors cached per device are rebuilt on first use; never ship them (they may be on a GPU).
        return {**self.__dict__, "_stats": {}}
