"""Routing a model's parameters: binary weights to a BNN optimizer, everything else to Adam."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from bnn_errors import InvalidInputError
from trainers.layers import BinaryLayer
from trainers.optim._checks import check_positive
from trainers.optim._registry import get_optimizer

__all__ = ["build_optimizers", "split_parameters"]

# Device types with a fused Adam kernel in torch >= 2.4 (the project's minimum).
_FUSED_ADAM_DEVICES = frozenset({"cpu", "cuda", "mps", "xpu"})


def split_parameters(model: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """Split a model's parameters into (binary, real).

    Binary: the ``weight`` of every :class:`~trainers.layers.BinaryLayer`. Real: every other parameter,
    biases of binary layers included. Each parameter appears once, even if modules share it.
    """
    binary: list[nn.Parameter] = []
    seen: set[int] = set()
    for module in model.modules():
        if isinstance(module, BinaryLayer) and id(module.weight) not in seen:
            seen.add(id(module.weight))
            binary.append(module.weight)
    real = [p for p in model.parameters() if id(p) not in seen]
    return binary, real


def build_optimizers(
    model: nn.Module,
    optimizer: str,
    hyperparameters: Mapping[str, float],
    *,
    real_lr: float = 1e-3,
) -> list[torch.optim.Optimizer]:
    """The optimizers for ``model``: [BNN optimizer on the binary weights, Adam on the real parameters].

    Where the optimizer's entry says ``binarize`` (filter, bop, frozen) every binary layer is binarized first (its
    weight becomes theta in {-1, +1}); for latent SGD the weights stay the latent weights as initialised. Adam is
    left out when the model has no real parameters; it is fused where torch has a fused kernel for the parameters'
    device, else multi-tensor.

    Args:
        model: a model with at least one :class:`~trainers.layers.BinaryLayer`.
        optimizer: a registered optimizer's name (see :func:`~trainers.optim.list_optimizers`): "filter" (alpha,
            gamma), "latent" (lr, momentum, weight_decay, optional clip), "bop" (threshold, gamma) or "frozen"
            (none: the binary weights stay at their initial signs).
        hyperparameters: the BNN optimizer's hyperparameters by name, exactly the fields of its model.
        real_lr: Adam's learning rate, > 0.

    Raises:
        InvalidInputError: unknown optimizer name (the message lists the known ones), missing or unknown
            hyperparameters, a value out of range (the message names it and its range), or a model without binary
            layers.
    """
    entry = get_optimizer(optimizer)
    values = entry.parse(hyperparameters)
    check_positive("real_lr", real_lr)
    binary, real = split_parameters(model)
    if not binary:
        raise InvalidInputError(f"{type(model).__name__} has no binary layers to optimize")
    bnn = entry.build(binary, values)
    if entry.binarize:
        # after the optimizer accepted its hyperparameters, so that a rejected request leaves the model alone
        for module in model.modules():
            if isinstance(module, BinaryLayer):
                module.binarize_()
    if not real:
        return [bnn]
    fused = all(p.device.type in _FUSED_ADAM_DEVICES and torch.is_floating_point(p) for p in real)
    adam = torch.optim.Adam(real, lr=real_lr, fused=True if fused else None, foreach=None if fused else True)
    return [bnn, adam]
