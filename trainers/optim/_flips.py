"""The flip ratio (paper Eq 18): the share of binary weights that change sign in one optimizer step.

The optimizers count flips inside their own step, from tensors the step computes anyway, and add the count to
a tensor on the weights' device, so that counting never waits for the device; only :meth:`FlipCounter.ratio`
reads the total back.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["FlipCounter", "binary_signs_", "count_changes"]


class FlipCounter:
    """Flipped binary weights summed over the steps since the last reset, kept on the device.

    ``ratio()`` is flipped / (steps * weights): the mean per-step flip ratio of paper Eq 18.
    """

    def __init__(self) -> None:
        self._flipped: Tensor | None = None
        self._weights = 0
        self._steps = 0

    @property
    def steps(self) -> int:
        """The number of optimizer steps recorded since the last reset."""
        return self._steps

    def record(self, flipped: Tensor, weights: int) -> None:
        """Add one step: ``flipped`` (a 0-dim tensor, never read here) of ``weights`` weights changed sign."""
        if self._flipped is None:
            # float64 keeps the running total exact far beyond 2**24 flips; MPS has no float64.
            dtype = torch.float32 if flipped.device.type == "mps" else torch.float64
            self._flipped = torch.zeros((), dtype=dtype, device=flipped.device)
        self._flipped.add_(flipped)
        self._weights += weights
        self._steps += 1

    def ratio(self) -> float:
        """The mean per-step flip ratio since the last reset, in [0, 1]; 0.0 before any step. Syncs once."""
        if self._flipped is None or self._weights == 0:
            return 0.0
        return float(self._flipped.item()) / self._weights

    def reset(self) -> None:
        """Start counting afresh (e.g. at the start of an epoch)."""
        if self._flipped is not None:
            self._flipped.zero_()
        self._weights = 0
        self._steps = 0


def count_changes(changes: list[Tensor], size: float) -> Tensor:
    """How many elements of ``changes`` are nonzero, as a 0-dim tensor, when every element is 0 or +-``size``.

    The count is the squared L2 norm over size**2: one multi-tensor reduction (on CUDA, one launch for all
    tensors; an elementwise ``!=`` and a ``sum`` per tensor would be two passes, a temporary and two launches
    each). Rounding removes the square root's error; the count is exact while a tensor's sum of squares fits
    float32's integers (2**24 / size**2 changes in one tensor in one step).
    """
    norms = torch.stack(torch._foreach_norm(changes, 2))
    return norms.square_().div_(size * size).round_().sum()


def binary_signs_(signs: list[Tensor], values: list[Tensor]) -> None:
    """Write sign(value) into ``signs`` as -1 or +1, with 0 counted as +1; ``signs`` may be ``values``."""
    # sign(x) + 0.5 is -0.5, 0.5 or 1.5, so its sign maps 0 to +1 and keeps -1 and +1: cheap in-place
    # elementwise passes, where torch.where would first build a boolean mask (several times slower on CPU).
    if signs is not values:
        torch._foreach_copy_(signs, values)
    torch._foreach_sign_(signs)
    torch._foreach_add_(signs, 0.5)
    torch._foreach_sign_(signs)
