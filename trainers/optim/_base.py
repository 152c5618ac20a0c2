"""What the three BNN optimizers share: the flip counter, gathering the parameters that have gradients, and a
scratch buffer kept between steps."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.optim.optimizer import ParamsT

from bnn_errors import InvalidInputError
from trainers.optim._flips import FlipCounter


class BinaryOptimizer(torch.optim.Optimizer, ABC):
    """A ``torch.optim.Optimizer`` for binary weights that counts weight flips (see :class:`FlipCounter`).

    Between steps it keeps one scratch tensor as large as its binary weights: on CPU, allocating a fresh
    temporary every step (page faults on memory just returned to the system) costs more than the update itself.

    Attributes:
        flips: the :class:`FlipCounter` that every step adds its sign changes to.
    """

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        super().__init__(params, defaults)
        self.flips = FlipCounter()
        self._scratch_buffers: dict[tuple[torch.device, torch.dtype], Tensor] = {}

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group after checking its hyperparameters (those it does not set come from ``defaults``)."""
        self._check_group({**self.defaults, **param_group})
        super().add_param_group(param_group)

    @abstractmethod
    def _check_group(self, group: dict[str, Any]) -> None:
        """Raise ``InvalidInputError`` naming the first hyperparameter of ``group`` out of its range."""

    def _with_grads(self, group: dict[str, Any]) -> tuple[list[Tensor], list[Tensor]]:
        """The group's parameters that have a gradient, and those gradients."""
        params: list[Tensor] = []
        grads: list[Tensor] = []
        for p in group["params"]:
            if p.grad is None:
                continue
            if p.grad.is_sparse:
                raise InvalidInputError(f"{type(self).__name__} does not support sparse gradients")
            params.append(p)
            grads.append(p.grad)
        return params, grads

    def _scratch(self, params: list[Tensor]) -> list[Tensor]:
        """Tensors shaped like ``params``, views into buffers kept between steps: contents are not preserved."""
        sizes: dict[tuple[torch.device, torch.dtype], int] = {}
        for p in params:
            sizes[p.device, p.dtype] = sizes.get((p.device, p.dtype), 0) + p.numel()
        for (device, dtype), size in sizes.items():
            buffer = self._scratch_buffers.get((device, dtype))
            if buffer is None or buffer.numel() < size:
                self._scratch_buffers[device, dtype] = torch.empty(size, device=device, dtype=dtype)
        offsets = dict.fromkeys(sizes, 0)
        views = []
        for p in params:
            key = (p.device, p.dtype)
            views.append(self._scratch_buffers[key][offsets[key] : offsets[key] + p.numel()].view(p.shape))
            offsets[key] += p.numel()
        return views

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        """Update the binary weights of every parameter with a gradient (the rule is the subclass's).

        Args:
            closure: re-evaluates the model and returns the loss (run with gradients enabled).

        Returns:
            The closure's loss, or None without a closure.
        """
        loss = self._closure_loss(closure)
        flipped: list[Tensor] = []
        weights = 0
        for group in self.param_groups:
            params, grads = self._with_grads(group)
            if not params:
                continue
            count = self._update_group(group, params, grads)
            if count is not None:
                flipped.append(count)
            weights += sum(p.numel() for p in params)
        if flipped:
            self.flips.record(flipped[0] if len(flipped) == 1 else torch.stack(flipped).sum(), weights)
        return loss

    @abstractmethod
    def _update_group(self, group: dict[str, Any], params: list[Tensor], grads: list[Tensor]) -> Tensor | None:
        """Apply the update rule to one group's parameters that have gradients; return how many weights flipped."""

    @staticmethod
    def _closure_loss(closure: Callable[[], float] | None) -> float | None:
        if closure is None:
            return None
        with torch.enable_grad():
            return closure()
