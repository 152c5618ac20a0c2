"""Bop: the binary optimizer without latent weights (Helwegen et al., NeurIPS 2019)."""

from __future__ import annotations

from typing import Any

import torch
from pydantic import Field
from torch import Tensor
from torch.optim.optimizer import ParamsT

from trainers.optim._base import BinaryOptimizer
from trainers.optim._checks import check_open_unit, check_positive
from trainers.optim._flips import count_changes
from trainers.optim._hyperparameters import Hyperparameters

__all__ = ["Bop", "BopHyperparameters", "bop_update"]


class BopHyperparameters(Hyperparameters):
    """Bop's hyperparameters: the flip threshold and the rate of its gradient average (Helwegen et al. 2019)."""

    threshold: float = Field(gt=0, description="tau: a weight flips where its gradient average exceeds it")
    gamma: float = Field(gt=0, le=1, description="adaptivity rate of the gradient average m")


class Bop(BinaryOptimizer):
    r"""Flip a binary weight when an average of its gradient is strong and pushes it the other way.

    For every binary weight :math:`\theta` (the parameter, holding -1 or +1), with :math:`m_0 = 0`:

    .. math::
        m_t = (1 - \gamma)\, m_{t-1} + \gamma\, g_t, \qquad
        \theta_t = \begin{cases} -\theta_{t-1} & \text{if } |m_t| > \tau
        \text{ and } \operatorname{sign}(m_t) = \operatorname{sign}(\theta_{t-1}), \\
        \theta_{t-1} & \text{otherwise,} \end{cases}

    with threshold :math:`\tau` (Helwegen, Widdicombe, Geiger, Liu, Cheng and Nusselder, "Latent weights do
    not exist: rethinking binarized neural network optimization", NeurIPS 2019, Algorithm 2). For
    :math:`\theta = \pm 1` the condition is :math:`m_t \theta_{t-1} > \tau`, which is how it is computed.

    Args:
        params: the binary weights (holding -1 or +1), or param groups that may override 'threshold', 'gamma'.
        threshold: tau, > 0.
        gamma: the adaptivity rate of the gradient average, in (0, 1].

    Raises:
        InvalidInputError: ``threshold`` <= 0, or ``gamma`` outside (0, 1].

    Attributes:
        flips: the :class:`FlipCounter` that every step adds its sign changes to.
    """

    def __init__(self, params: ParamsT, threshold: float, gamma: float) -> None:
        defaults = {
            "threshold": check_positive("threshold", threshold),
            "gamma": check_open_unit("gamma", gamma),
        }
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        check_positive("threshold", group["threshold"])
        check_open_unit("gamma", group["gamma"])

    def _update_group(self, group: dict[str, Any], params: list[Tensor], grads: list[Tensor]) -> Tensor | None:
        """Update the gradient averages and flip the binary weights that cross the threshold."""
        ms = [self._momentum(p) for p in params]
        return bop_update(
            params,
            grads,
            ms,
            self._scratch(params),
            threshold=group["threshold"],
            gamma=group["gamma"],
            count_flips=True,
        )

    def _momentum(self, p: Tensor) -> Tensor:
        state = self.state[p]
        if not state:
            state["m"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        return state["m"]  # type: ignore[no-any-return]


def bop_update(
    params: list[Tensor],
    grads: list[Tensor],
    ms: list[Tensor],
    scratch: list[Tensor],
    *,
    threshold: float,
    gamma: float,
    count_flips: bool,
) -> Tensor | None:
    """One Bop step on lists of tensors (the functional core of :class:`Bop`), in place.

    Args:
        scratch: tensors shaped like ``params`` whose contents are overwritten.

    Returns:
        How many binary weights flipped, as a 0-dim tensor on the device; None if not ``count_flips``.
    """
    torch._foreach_lerp_(ms, grads, gamma)
    # flip = sign(max(m * theta - tau, 0)) is 1 where the weight flips and 0 elsewhere, so the flip itself is
    # theta <- theta - 2 * flip * theta, and the count is the sum of flip.
    flip = scratch
    torch._foreach_copy_(flip, ms)
    torch._foreach_mul_(flip, params)
    torch._foreach_sub_(flip, threshold)
    torch._foreach_clamp_min_(flip, 0.0)
    torch._foreach_sign_(flip)
    flipped = count_changes(flip, 1.0) if count_flips else None
    torch._foreach_addcmul_(params, flip, params, value=-2.0)
    return flipped
