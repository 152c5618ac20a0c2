"""The control without a BNN optimizer: binary weights stay at the signs of their random initialization."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.optim.optimizer import ParamsT

from trainers.optim._base import BinaryOptimizer
from trainers.optim._hyperparameters import Hyperparameters

__all__ = ["FrozenBinary", "FrozenHyperparameters"]


class FrozenHyperparameters(Hyperparameters):
    """The frozen control takes no hyperparameters."""


class FrozenBinary(BinaryOptimizer):
    """Leave every binary weight as it is: the "binary weights frozen at random init" control.

    Only the real-valued parameters (first layer, classifier, batch norm) learn, with Adam. What such a net reaches
    is the floor a tuned BNN optimizer has to beat: an experiment whose tuned nets do not clear it clearly cannot
    tell search spaces apart. Each step records zero flips, so the flip ratio reads 0 like any other optimizer's.

    Args:
        params: the binary weights.
    """

    def __init__(self, params: ParamsT) -> None:
        super().__init__(params, {})

    def _check_group(self, group: dict[str, Any]) -> None:
        """No hyperparameters to check."""

    def _update_group(self, group: dict[str, Any], params: list[Tensor], grads: list[Tensor]) -> Tensor | None:
        """Change nothing; report no flips."""
        return torch.zeros((), device=params[0].device)
