"""Latent-weight SGD for binary networks, exactly as the paper writes it (momentum before weight decay)."""

from __future__ import annotations

from typing import Any

import torch
from pydantic import Field
from torch import Tensor
from torch.optim.optimizer import ParamsT

from bnn_errors import InvalidInputError
from trainers.optim._base import BinaryOptimizer
from trainers.optim._checks import check_momentum, check_non_negative, check_positive
from trainers.optim._flips import binary_signs_, count_changes
from trainers.optim._hyperparameters import Hyperparameters

__all__ = ["LatentHyperparameters", "LatentSGD", "latent_update", "sign_changes"]


class LatentHyperparameters(Hyperparameters):
    """Latent-weight SGD's hyperparameters (paper Eq 1-5)."""

    lr: float = Field(gt=0, description="learning rate eta of the latent weights")
    momentum: float = Field(ge=0, lt=1, description="momentum mu of the gradient average")
    weight_decay: float = Field(ge=0, description="weight decay lambda of the latent weights")
    clip: float | None = Field(
        default=None, gt=0, description="bound the latent weights are clamped to after each step; None: no clipping"
    )


class LatentSGD(BinaryOptimizer):
    r"""SGD on latent weights w whose signs are the binary weights.

    For every latent weight :math:`w` (the parameter), with momentum :math:`m_0 = 0`:

    .. math::
        m_t = \mu\, m_{t-1} + (1 - \mu)\, g_t, \qquad
        w_t = w_{t-1} - \eta\, (m_t + \lambda\, w_{t-1}), \qquad
        \theta_t = \operatorname{sign}(w_t),

    then, with ``clip``, :math:`w_t` is clamped to [-clip, clip] (Quist, Li and van Gemert, "Understanding
    weight-magnitude hyperparameters in training binary networks", ICLR 2023, Eq 1-5). Unlike
    ``torch.optim.SGD`` the momentum averages the gradient alone (with weight (1 - mu), not 1) and weight
    decay enters after it; so with w0 = 0 and no clipping, w_t = -f_t / lambda for the
    :class:`FilterOptimizer` with alpha = lr * weight_decay and gamma = 1 - momentum.

    A *flip* for :attr:`flips` is a change of sign(w), with w == 0 counted as +1 (as ``sign_ste`` does). The
    binary layers break ties at exactly 0 with their own fixed random signs, which the optimizer cannot see;
    the two agree on every weight that is not exactly zero. From w0 = 0 the first step counts the weights that
    turn negative, where random tie signs would flip half of all weights in expectation: the same when the
    first gradients are as often positive as negative.

    Args:
        params: the latent weights, or param groups (dicts that may override any hyperparameter).
        lr: the learning rate eta, > 0 (the group key is 'lr', so torch's LR schedulers work on it).
        momentum: mu, in [0, 1).
        weight_decay: lambda, >= 0.
        clip: None for no clipping, or the bound (> 0) that latent weights are clamped to after each step.

    Raises:
        InvalidInputError: a hyperparameter is outside its range.

    Attributes:
        flips: the :class:`FlipCounter` that every step adds its sign changes to.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float,
        momentum: float,
        weight_decay: float,
        clip: float | None = None,
    ) -> None:
        defaults = {
            "lr": check_positive("lr", lr),
            "momentum": check_momentum("momentum", momentum),
            "weight_decay": check_non_negative("weight_decay", weight_decay),
            "clip": None if clip is None else check_positive("clip", clip),
        }
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        check_positive("lr", group["lr"])
        check_momentum("momentum", group["momentum"])
        check_non_negative("weight_decay", group["weight_decay"])
        if group["clip"] is not None:
            check_positive("clip", group["clip"])
        # The step scales tensors by lr and lr * weight_decay: beyond float32's range torch fails mid-step.
        largest = torch.finfo(torch.float32).max
        if group["lr"] * max(group["weight_decay"], 1.0) > largest:
            raise InvalidInputError(
                f"lr and lr * weight_decay must be at most {largest:.3g} (float32), got lr={group['lr']}, "
                f"weight_decay={group['weight_decay']}"
            )

    def _update_group(self, group: dict[str, Any], params: list[Tensor], grads: list[Tensor]) -> Tensor | None:
        """Update the momentum and the latent weights; count the latent weights whose sign changed."""
        states = [self._state(p) for p in params]
        latent_update(
            params,
            grads,
            [s["m"] for s in states],
            lr=group["lr"],
            momentum=group["momentum"],
            weight_decay=group["weight_decay"],
            clip=group["clip"],
        )
        return sign_changes(params, [s["sign"] for s in states], self._scratch(params))

    def _state(self, p: Tensor) -> dict[str, Tensor]:
        state: dict[str, Tensor] = self.state[p]
        if not state:
            state["m"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["sign"] = torch.empty_like(p, memory_format=torch.preserve_format)
            binary_signs_([state["sign"]], [p])
        return state


def sign_changes(latent: list[Tensor], signs: list[Tensor], scratch: list[Tensor]) -> Tensor:
    """How many latent weights changed sign since ``signs`` was written, as a 0-dim tensor; updates ``signs``.

    Args:
        latent: the latent weights after the step.
        signs: their signs (+-1, 0 counted as +1) before the step, overwritten with those after it.
        scratch: tensors shaped like ``latent`` whose contents are overwritten.
    """
    binary_signs_(scratch, latent)
    # new - old is 0 or +-2; adding it back sets the new signs exactly, as both are +-1.
    torch._foreach_sub_(scratch, signs)
    flipped = count_changes(scratch, 2.0)
    torch._foreach_add_(signs, scratch)
    return flipped


def latent_update(
    params: list[Tensor],
    grads: list[Tensor],
    ms: list[Tensor],
    *,
    lr: float,
    momentum: float,
    weight_decay: float,
    clip: float | None,
) -> None:
    """One latent-weight SGD step on lists of tensors, in place: the functional core of :class:`LatentSGD`."""
    torch._foreach_lerp_(ms, grads, 1.0 - momentum)
    if weight_decay != 0.0:
        # w - lr * (m + wd * w) as (1 - lr * wd) * w - lr * m: the same Eq 5, without a temporary list.
        torch._foreach_mul_(params, 1.0 - lr * weight_decay)
    torch._foreach_add_(params, ms, alpha=-lr)
    if clip is not None:
        torch._foreach_clamp_min_(params, -clip)
        torch._foreach_clamp_max_(params, clip)
