"""Decay of any optimizer hyperparameter (alpha for the filter, lr for latent SGD) over a training run."""

from __future__ import annotations

import math
from typing import Any

import torch

from bnn_errors import InvalidInputError
from trainers.optim._bop import Bop
from trainers.optim._filter import FilterOptimizer

__all__ = ["SCHEDULES", "HyperparameterDecay", "decay_factor"]

SCHEDULES: tuple[str, ...] = ("cosine", "linear", "none")


def decay_factor(schedule: str, t: int, total: int) -> float:
    """The multiplier of the initial value after ``t`` of ``total`` steps (``t`` > ``total`` as ``total``).

    cosine: 0.5 * (1 + cos(pi * t / total)); linear: 1 - t / total; none: 1.

    Raises:
        InvalidInputError: unknown ``schedule``, ``total`` < 1 or ``t`` < 0.
    """
    if schedule not in SCHEDULES:
        raise InvalidInputError(f"schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
    if total < 1:
        raise InvalidInputError(f"total must be >= 1, got {total}")
    if t < 0:
        raise InvalidInputError(f"t must be >= 0, got {t}")
    progress = min(t, total) / total
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    if schedule == "linear":
        return 1.0 - progress
    return 1.0


class HyperparameterDecay:
    """On each step, sets ``group[key] = initial * decay_factor(schedule, t, total_steps)`` in every group.

    The filter's third hyperparameter is alpha decay, the image of learning-rate decay under alpha = lr *
    weight_decay (Quist, Li and van Gemert, ICLR 2023). torch's ``LRScheduler`` cannot do it: it reads and
    writes ``group['lr']`` only, and the filter optimizer has no learning rate. This object decays any key,
    and is a one-liner for users::

        decay = HyperparameterDecay(optimizer, total_steps=epochs * steps_per_epoch)
        ...; optimizer.step(); decay.step()

    Args:
        optimizer: any optimizer whose param groups all hold ``key``.
        total_steps: the number of ``step()`` calls over which the value falls to its final factor; >= 1.
        schedule: "cosine" (to 0), "linear" (to 0) or "none" (constant).
        key: the group key to decay. Default: 'alpha' for :class:`FilterOptimizer`, 'lr' for
            :class:`LatentSGD` and other torch optimizers; :class:`Bop` has no default ('threshold' and
            'gamma' play different roles), so it must be given.

    Raises:
        InvalidInputError: ``total_steps`` < 1, an unknown ``schedule``, no ``key`` for Bop, or a param group
            without ``key``.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        total_steps: int,
        schedule: str = "cosine",
        key: str | None = None,
    ) -> None:
        if total_steps < 1:
            raise InvalidInputError(f"total_steps must be >= 1, got {total_steps}")
        if schedule not in SCHEDULES:
            raise InvalidInputError(f"schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
        key = _default_key(optimizer) if key is None else key
        for i, group in enumerate(optimizer.param_groups):
            if key not in group:
                raise InvalidInputError(
                    f"param group {i} of {type(optimizer).__name__} has no key {key!r}; "
                    f"it has {', '.join(k for k in group if k != 'params')}"
                )
        self.optimizer = optimizer
        self.total_steps = total_steps
        self.schedule = schedule
        self.key = key
        self.initial_values = [float(group[key]) for group in optimizer.param_groups]
        self.t = 0

    def step(self) -> None:
        """Advance one step and write the decayed value into every param group."""
        self.t += 1
        self._apply()

    def values(self) -> list[float]:
        """The current value of ``key`` in each param group."""
        return [float(group[self.key]) for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint needs to resume the schedule."""
        return {"t": self.t, "initial_values": list(self.initial_values)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume from :meth:`state_dict` and write the value for the restored step into the groups."""
        self.t = int(state["t"])
        self.initial_values = [float(v) for v in state["initial_values"]]
        self._apply()

    def _apply(self) -> None:
        factor = decay_factor(self.schedule, self.t, self.total_steps)
        for group, initial in zip(self.optimizer.param_groups, self.initial_values, strict=True):
            group[self.key] = initial * factor


def _default_key(optimizer: torch.optim.Optimizer) -> str:
    if isinstance(optimizer, FilterOptimizer):
        return "alpha"
    if isinstance(optimizer, Bop):
        raise InvalidInputError("Bop has no default key to decay: pass key='threshold' or key='gamma'")
    # LatentSGD keeps its learning rate under 'lr', as every torch optimizer does.
    return "lr"
