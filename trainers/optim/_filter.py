"""The filter optimizer: binary weights as the sign of a second-order low-pass filter on the gradient."""

from __future__ import annotations

from typing import Any

import torch
from pydantic import Field
from torch import Tensor
from torch.optim.optimizer import ParamsT

from trainers.optim._base import BinaryOptimizer
from trainers.optim._checks import check_open_unit
from trainers.optim._flips import binary_signs_, count_changes
from trainers.optim._hyperparameters import Hyperparameters

__all__ = ["FilterHyperparameters", "FilterOptimizer", "filter_update"]


class FilterHyperparameters(Hyperparameters):
    """The filter optimizer's hyperparameters: the rates of its two moving averages (paper Eq 12-13)."""

    alpha: float = Field(
        gt=0, le=1, description="rate of the second moving average, the one that sets the binary weights (lr * wd)"
    )
    gamma: float = Field(gt=0, le=1, description="rate of the first moving average, the momentum's (1 - momentum)")


class FilterOptimizer(BinaryOptimizer):
    r"""Binary weights set to the sign of two cascaded exponential moving averages of the gradient.

    For every binary weight :math:`\theta` (the parameter, holding -1 or +1), with :math:`m_0 = f_0 = 0`:

    .. math::
        m_t = (1 - \gamma)\, m_{t-1} + \gamma\, g_t, \qquad
        f_t = (1 - \alpha)\, f_{t-1} + \alpha\, m_t, \qquad
        \theta_t = -\operatorname{sign}(f_t).

    This is latent-weight SGD with momentum and weight decay, started from zero latent weights without
    clipping or scaling, written in the only two quantities that decide its binary weights: alpha =
    lr * weight_decay and gamma = 1 - momentum (Quist, Li and van Gemert, "Understanding weight-magnitude
    hyperparameters in training binary networks", ICLR 2023, Eq 12-13; together a second-order IIR low-pass
    filter, Eq 16-17). Where :math:`f_t` is exactly 0 the sign carries no information and the weight takes a
    random sign, drawn once per weight (uniform -1/+1) when its state is created: a weight whose filter stays
    at zero therefore keeps one random sign instead of flipping at random every step.

    The parameters should hold -1 or +1 before the first step (``BinaryLayer.binarize_()``); any other value
    is read as its sign (0 as +1) when the weight's state is created, so that the first flip count compares
    signs.

    Args:
        params: the binary weights, or param groups (dicts that may override 'alpha' and 'gamma').
        alpha: the rate of the second average, the one that sets the binary weights; in (0, 1].
        gamma: the rate of the first average (the momentum's), in (0, 1].
        generator: draws the tie signs (on its own device; they are copied to the weights'). By default one
            generator per weight device, seeded from torch's global RNG when the optimizer is built, so a run
            is repeatable under ``torch.manual_seed`` and the draw needs no copy from the host.

    Raises:
        InvalidInputError: ``alpha`` or ``gamma`` is outside (0, 1].

    Attributes:
        flips: the :class:`FlipCounter` that every step adds its sign changes to.
    """

    def __init__(
        self,
        params: ParamsT,
        alpha: float,
        gamma: float,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        defaults = {"alpha": check_open_unit("alpha", alpha), "gamma": check_open_unit("gamma", gamma)}
        self.generator = generator
        self._seed = int(torch.randint(0, 2**62, (), dtype=torch.int64).item()) if generator is None else 0
        self._device_generators: dict[torch.device, torch.Generator] = {}
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        check_open_unit("alpha", group["alpha"])
        check_open_unit("gamma", group["gamma"])

    def _update_group(self, group: dict[str, Any], params: list[Tensor], grads: list[Tensor]) -> Tensor | None:
        """Update the filter states and set every binary weight with a gradient to -sign(f)."""
        states = [self._state(p) for p in params]
        return filter_update(
            params,
            grads,
            [s["m"] for s in states],
            [s["f"] for s in states],
            [s["tie_sign"] for s in states],
            self._scratch(params),
            alpha=group["alpha"],
            gamma=group["gamma"],
            count_flips=True,
        )

    def tie_signs(self, p: Tensor) -> Tensor:
        """The +-1 signs binary weight ``p`` takes where its filter state is exactly 0, drawn (from this optimizer's
        generator, in the order parameters are first seen) when ``p`` is first stepped or asked for here."""
        return self._state(p)["tie_sign"]

    def _state(self, p: Tensor) -> dict[str, Tensor]:
        state: dict[str, Tensor] = self.state[p]
        if not state:
            state["m"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["f"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            held = [p]
            binary_signs_(held, held)
            generator = self._generator(p.device)
            bits = torch.randint(0, 2, p.shape, generator=generator, device=generator.device)
            state["tie_sign"] = (bits * 2 - 1).to(device=p.device, dtype=p.dtype)
        return state

    def _generator(self, device: torch.device) -> torch.Generator:
        if self.generator is not None:
            return self.generator
        if device not in self._device_generators:
            self._device_generators[device] = torch.Generator(device).manual_seed(self._seed)
        return self._device_generators[device]


def filter_update(
    params: list[Tensor],
    grads: list[Tensor],
    ms: list[Tensor],
    fs: list[Tensor],
    tie_signs: list[Tensor],
    scratch: list[Tensor],
    *,
    alpha: float,
    gamma: float,
    count_flips: bool,
) -> Tensor | None:
    """One filter step on lists of tensors (the functional core of :class:`FilterOptimizer`), in place.

    Args:
        scratch: tensors shaped like ``params`` whose contents are overwritten.

    Returns:
        How many binary weights changed sign, as a 0-dim tensor on the device; None if not ``count_flips``.
    """
    torch._foreach_lerp_(ms, grads, gamma)
    torch._foreach_lerp_(fs, ms, alpha)
    # sign(tie - 2 sign(f)) is -sign(f) where f != 0 and the tie sign where f == 0: in-place elementwise passes,
    # where masking with torch.where would first build a boolean tensor (several times slower on CPU).
    theta = scratch
    torch._foreach_copy_(theta, fs)
    torch._foreach_sign_(theta)
    torch._foreach_mul_(theta, -2.0)
    torch._foreach_add_(theta, tie_signs)
    torch._foreach_sign_(theta)
    if not count_flips:
        torch._foreach_copy_(params, theta)
        return None
    # theta_new - theta_old is 0 or +-2; adding it back sets theta_new exactly, as both are +-1.
    torch._foreach_sub_(theta, params)
    flipped = count_changes(theta, 2.0)
    torch._foreach_add_(params, theta)
    return flipped
