"""Routing a model's parameters: binary weights to a BNN optimizer, everything else to Adam."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from bnn_errors import InvalidInputError
from trainers.layers import BinaryLayer
from trainers.optim._base import BinaryOptimizer
from trainers.optim._bop import Bop
from trainers.optim._checks import check_positive
from trainers.optim._filter import FilterOptimizer
from trainers.optim._frozen import FrozenBinary
from trainers.optim._latent import LatentSGD

__all__ = ["BNN_OPTIMIZERS", "build_optimizers", "split_parameters"]

# name -> (required hyperparameters, optional ones)
BNN_OPTIMIZERS: Mapping[str, tuple[frozenset[str], frozenset[str]]] = {
    "filter": (frozenset({"alpha", "gamma"}), frozenset()),
    "latent": (frozenset({"lr", "momentum", "weight_decay"}), frozenset({"clip"})),
    "bop": (frozenset({"threshold", "gamma"}), frozenset()),
    # the control: binary weights keep the signs of their random initialization
    "frozen": (frozenset(), frozenset()),
}

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

    For "filter", "bop" and "frozen" every binary layer is binarized first (its weight becomes theta in {-1, +1}); for
    "latent" the weights stay the latent weights as initialised. Adam is left out when the model has no real
    parameters; it is fused where torch has a fused kernel for the parameters' device, else multi-tensor.

    Args:
        model: a model with at least one :class:`~trainers.layers.BinaryLayer`.
        optimizer: "filter" (alpha, gamma), "latent" (lr, momentum, weight_decay, optional clip) or
            "bop" (threshold, gamma), or "frozen" (none: the binary weights stay at their initial signs).
        hyperparameters: the BNN optimizer's hyperparameters by name, exactly those listed above.
        real_lr: Adam's learning rate, > 0.

    Raises:
        InvalidInputError: unknown optimizer name, missing or unknown hyperparameters, a value out of range,
            or a model without binary layers.
    """
    if optimizer not in BNN_OPTIMIZERS:
        raise InvalidInputError(f"unknown optimizer {optimizer!r}; known: {', '.join(BNN_OPTIMIZERS)}")
    required, optional = BNN_OPTIMIZERS[optimizer]
    missing = required - hyperparameters.keys()
    unknown = hyperparameters.keys() - required - optional
    if missing or unknown:
        problems = []
        if missing:
            problems.append(f"missing {', '.join(sorted(missing))}")
        if unknown:
            problems.append(f"unknown {', '.join(sorted(unknown))}")
        raise InvalidInputError(
            f"hyperparameters for {optimizer!r}: {'; '.join(problems)} "
            f"(expected {', '.join(sorted(required | optional))})"
        )
    check_positive("real_lr", real_lr)
    binary, real = split_parameters(model)
    if not binary:
        raise InvalidInputError(f"{type(model).__name__} has no binary layers to optimize")

    h = hyperparameters
    bnn: BinaryOptimizer
    if optimizer == "latent":
        bnn = LatentSGD(binary, lr=h["lr"], momentum=h["momentum"], weight_decay=h["weight_decay"], clip=h.get("clip"))
    elif optimizer == "filter":
        bnn = FilterOptimizer(binary, alpha=h["alpha"], gamma=h["gamma"])
    elif optimizer == "frozen":
        bnn = FrozenBinary(binary)
    else:
        bnn = Bop(binary, threshold=h["threshold"], gamma=h["gamma"])
    if optimizer != "latent":
        # after the optimizer accepted its hyperparameters, so that a rejected request leaves the model alone
        for module in model.modules():
            if isinstance(module, BinaryLayer):
                module.binarize_()
    if not real:
        return [bnn]
    fused = all(p.device.type in _FUSED_ADAM_DEVICES and torch.is_floating_point(p) for p in real)
    adam = torch.optim.Adam(real, lr=real_lr, fused=True if fused else None, foreach=None if fused else True)
    return [bnn, adam]
