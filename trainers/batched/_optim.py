"""The three BNN optimizers for K members at once: hyperparameters are ``[K]`` tensors broadcast over each
member's weights ``[K, ...]``.

The updates are those of :class:`~trainers.optim.FilterOptimizer`, :class:`~trainers.optim.LatentSGD` and
:class:`~trainers.optim.Bop`, element for element, so member k follows the single optimizer with its own
hyperparameters. The decayed hyperparameter (alpha of the filter, lr of latent SGD; Bop has none) is the
member's initial value times the ``factor`` passed to :meth:`BatchedBinaryOptimizer.step`, computed in
float64 as :class:`~trainers.optim.HyperparameterDecay` computes it in Python, then cast to the weights'
dtype. Nothing in a step reads a value back to the host.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from functools import cached_property

import torch
from torch import Tensor

from bnn_errors import InvalidInputError

__all__ = [
    "BatchedBinaryOptimizer",
    "BatchedBop",
    "BatchedFilter",
    "BatchedFrozen",
    "BatchedLatentSGD",
    "BatchedMixed",
    "MemberFlips",
]


def exact_dtype(device: torch.device) -> torch.dtype:
    """float64 for counts and hyperparameters, except on MPS, which has no float64."""
    return torch.float32 if device.type == "mps" else torch.float64


class MemberFlips:
    """Flipped binary weights per member, summed over the steps since the last reset and kept on the device.

    ``ratios()[k]`` is member k's flipped / (steps * weights): its mean per-step flip ratio (paper Eq 18), the
    same number :class:`~trainers.optim.FlipCounter` gives for a single network.
    """

    def __init__(self, members: int, device: torch.device) -> None:
        self._flipped = torch.zeros(members, dtype=exact_dtype(device), device=device)
        self._weights = 0

    def record(self, flipped: Tensor, weights: int) -> None:
        """Add one step: ``flipped[k]`` of member k's ``weights`` binary weights changed sign."""
        self._flipped.add_(flipped)
        self._weights += weights

    def ratios(self) -> list[float]:
        """Every member's mean per-step flip ratio since the last reset; 0.0 before any step. Syncs once."""
        if self._weights == 0:
            return [0.0] * self._flipped.numel()
        return [float(v) / self._weights for v in self._flipped.tolist()]

    def reset(self) -> None:
        """Start counting afresh (e.g. at the start of an epoch)."""
        self._flipped.zero_()
        self._weights = 0


def _member_view(values: Tensor, like: Tensor) -> Tensor:
    """``values`` ``[K]`` shaped to broadcast over ``like`` ``[K, ...]``, in its dtype."""
    return values.to(like.dtype).view(-1, *([1] * (like.dim() - 1)))


def _signs_(signs: Tensor, values: Tensor) -> Tensor:
    """sign(values) as -1 or +1 into ``signs``, 0 counted as +1 (as ``LatentSGD`` counts its flips)."""
    torch.sign(values, out=signs)
    signs.add_(0.5).sign_()
    return signs


def _member_changes(delta: Tensor, size: float) -> Tensor:
    """Per member, how many elements of ``delta`` ``[K, ...]`` are nonzero when each is 0 or +-``size``.

    As ``trainers.optim``'s ``count_changes``: the squared L2 norm over size**2, rounded (on CPU the L2 norm
    is several times faster than the L1 norm or a count of nonzeros).
    """
    dims = tuple(range(1, delta.dim()))
    norms: Tensor = torch.linalg.vector_norm(delta, 2, dim=dims)
    return norms.square_().div_(size * size).round_()


class BatchedBinaryOptimizer(ABC):
    """Updates the binary weights of K members, one tensor ``[K, ...]`` per layer; counts flips per member.

    Invariants: every parameter has the same leading K; a member's update reads only its own slice; a step
    reads nothing back to the host.

    Args:
        params: the binary (or latent) weights, each ``[K, ...]``.
        hyperparameters: name -> ``[K]`` values, validated by the subclass.

    Raises:
        InvalidInputError: no parameters, a parameter without the leading K, or a hyperparameter not of shape
            ``[K]`` or outside its range.

    Attributes:
        flips: the :class:`MemberFlips` every step adds to.
    """

    def __init__(self, params: Sequence[Tensor], hyperparameters: dict[str, Tensor]) -> None:
        if not params:
            raise InvalidInputError("no parameters to optimize")
        members = params[0].shape[0]
        device = params[0].device
        if any(p.dim() < 2 or p.shape[0] != members for p in params):
            shapes = [tuple(p.shape) for p in params]
            raise InvalidInputError(f"every parameter must be [K={members}, ...], got {shapes}")
        self.members = members
        self.params = list(params)
        values = {name: torch.as_tensor(v, dtype=torch.float64).cpu() for name, v in hyperparameters.items()}
        for name, v in values.items():
            if v.shape != (members,):
                raise InvalidInputError(f"{name} must have one value per member ({members}), got {tuple(v.shape)}")
        self._check(values)
        self.hyperparameters = {name: v.to(device=device, dtype=exact_dtype(device)) for name, v in values.items()}
        self.flips = MemberFlips(members, device)
        self._weights_per_member = sum(p[0].numel() for p in self.params)

    @cached_property
    def _scratch(self) -> list[Tensor]:
        """One work tensor like each parameter, made at the first step of an optimizer that needs it."""
        return [torch.empty_like(p) for p in self.params]

    @abstractmethod
    def _check(self, hyperparameters: dict[str, Tensor]) -> None:
        """Raise ``InvalidInputError`` naming the first hyperparameter (on the CPU) out of its range."""

    @abstractmethod
    def _update(self, factor: float) -> Tensor:
        """Update every parameter from its gradient; return the flips per member ``[K]``."""

    @torch.no_grad()
    def step(self, factor: float = 1.0) -> None:
        """One update of every member, the decayed hyperparameter times ``factor`` (see the module docstring).

        Raises:
            InvalidInputError: a parameter has no gradient.
        """
        if any(p.grad is None for p in self.params):
            raise InvalidInputError("every binary weight needs a gradient before step()")
        self.flips.record(self._update(factor), self._weights_per_member)


def _check_range(name: str, values: Tensor, low: float, high: float, *, low_open: bool, high_open: bool) -> None:
    above = values > low if low_open else values >= low
    below = values < high if high_open else values <= high
    bad = ~(above & below)
    if bool(bad.any()):
        k = int(bad.nonzero()[0, 0])
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise InvalidInputError(f"{name} of member {k} must be in {interval}, got {float(values[k])}")


class BatchedFilter(BatchedBinaryOptimizer):
    """The filter for K members: ``m <- lerp(m, g, gamma)``, ``f <- lerp(f, m, alpha)``, theta = -sign(f).

    Where f is exactly 0 a member's weight takes its tie sign, as :class:`~trainers.optim.FilterOptimizer`
    does; pass the single optimizers' tie signs to reproduce them exactly.

    Args:
        params: binary weights ``[K, ...]`` holding -1 or +1.
        alpha: ``[K]``, each in (0, 1]; the decayed hyperparameter.
        gamma: ``[K]``, each in (0, 1].
        tie_signs: one tensor of +-1 like each parameter.

    Raises:
        InvalidInputError: see :class:`BatchedBinaryOptimizer`; ``tie_signs`` not shaped like ``params``.
    """

    def __init__(self, params: Sequence[Tensor], alpha: Tensor, gamma: Tensor, tie_signs: Sequence[Tensor]) -> None:
        super().__init__(params, {"alpha": alpha, "gamma": gamma})
        shapes = [tuple(t.shape) for t in tie_signs]
        if shapes != [tuple(p.shape) for p in self.params]:
            raise InvalidInputError("tie_signs must hold one tensor shaped like each parameter")
        self.tie_signs = [t.to(device=p.device, dtype=p.dtype) for t, p in zip(tie_signs, self.params, strict=True)]
        self.m = [torch.zeros_like(p) for p in self.params]
        self.f = [torch.zeros_like(p) for p in self.params]

    def _check(self, hyperparameters: dict[str, Tensor]) -> None:
        for name in ("alpha", "gamma"):
            _check_range(name, hyperparameters[name], 0.0, 1.0, low_open=True, high_open=False)

    def _update(self, factor: float) -> Tensor:
        alpha = self.hyperparameters["alpha"] * factor
        flipped = []
        for p, m, f, tie, theta in zip(self.params, self.m, self.f, self.tie_signs, self._scratch, strict=True):
            assert p.grad is not None
            m.lerp_(p.grad, _member_view(self.hyperparameters["gamma"], p))
            f.lerp_(m, _member_view(alpha, p))
            # sign(tie - 2 sign(f)): -sign(f) where f != 0, the tie sign where f == 0 (see FilterOptimizer)
            torch.sign(f, out=theta)
            theta.mul_(-2.0).add_(tie).sign_()
            delta = theta.sub_(p)
            flipped.append(_member_changes(delta, 2.0))
            p.add_(delta)
        return torch.stack(flipped).sum(0)


class BatchedLatentSGD(BatchedBinaryOptimizer):
    """Latent SGD for K members: ``m <- lerp(m, g, 1 - mu)``, ``w <- (1 - lr wd) w - lr m``, clamp to clip.

    Args:
        params: latent weights ``[K, ...]``.
        lr: ``[K]``, each > 0 and finite; the decayed hyperparameter.
        momentum: ``[K]``, each in [0, 1).
        weight_decay: ``[K]``, each >= 0 and finite.
        clip: ``[K]``, each > 0; ``inf`` for a member without clipping. None: no member clips.

    Raises:
        InvalidInputError: see :class:`BatchedBinaryOptimizer`.
    """

    def __init__(
        self,
        params: Sequence[Tensor],
        lr: Tensor,
        momentum: Tensor,
        weight_decay: Tensor,
        clip: Tensor | None = None,
    ) -> None:
        hyperparameters = {"lr": lr, "momentum": momentum, "weight_decay": weight_decay}
        if clip is not None:
            hyperparameters["clip"] = clip
        super().__init__(params, hyperparameters)
        self._decays = bool((self.hyperparameters["weight_decay"] != 0).any())
        self.m = [torch.zeros_like(p) for p in self.params]
        self.signs = [_signs_(torch.empty_like(p), p.detach()) for p in self.params]

    def _check(self, hyperparameters: dict[str, Tensor]) -> None:
        inf = float("inf")
        _check_range("lr", hyperparameters["lr"], 0.0, inf, low_open=True, high_open=True)
        _check_range("momentum", hyperparameters["momentum"], 0.0, 1.0, low_open=False, high_open=True)
        _check_range("weight_decay", hyperparameters["weight_decay"], 0.0, inf, low_open=False, high_open=True)
        if "clip" in hyperparameters:
            _check_range("clip", hyperparameters["clip"], 0.0, inf, low_open=True, high_open=False)

    def _update(self, factor: float) -> Tensor:
        h = self.hyperparameters
        lr = h["lr"] * factor
        # As LatentSGD: 1 - momentum and 1 - lr * wd in float64, then one rounding to the weights' dtype.
        rate = 1.0 - h["momentum"]
        shrink = 1.0 - lr * h["weight_decay"]
        flipped = []
        for p, m, signs, scratch in zip(self.params, self.m, self.signs, self._scratch, strict=True):
            assert p.grad is not None
            m.lerp_(p.grad, _member_view(rate, p))
            if self._decays:
                p.mul_(_member_view(shrink, p))
            p.addcmul_(m, _member_view(-lr, p))
            if "clip" in h:
                clip = _member_view(h["clip"], p)
                torch.clamp(p, min=-clip, max=clip, out=p)
            delta = _signs_(scratch, p).sub_(signs)
            flipped.append(_member_changes(delta, 2.0))
            signs.add_(delta)
        return torch.stack(flipped).sum(0)


class BatchedBop(BatchedBinaryOptimizer):
    """Bop for K members: ``m <- lerp(m, g, gamma)``; flip theta where ``m * theta > threshold``.

    Args:
        params: binary weights ``[K, ...]`` holding -1 or +1.
        threshold: ``[K]``, each > 0 and finite.
        gamma: ``[K]``, each in (0, 1].

    Raises:
        InvalidInputError: see :class:`BatchedBinaryOptimizer`.
    """

    def __init__(self, params: Sequence[Tensor], threshold: Tensor, gamma: Tensor) -> None:
        super().__init__(params, {"threshold": threshold, "gamma": gamma})
        self.m = [torch.zeros_like(p) for p in self.params]

    def _check(self, hyperparameters: dict[str, Tensor]) -> None:
        _check_range("threshold", hyperparameters["threshold"], 0.0, float("inf"), low_open=True, high_open=True)
        _check_range("gamma", hyperparameters["gamma"], 0.0, 1.0, low_open=True, high_open=False)

    def _update(self, factor: float) -> Tensor:
        # Bop has no decayed hyperparameter: ``factor`` is accepted for the common interface and not used.
        flipped = []
        for p, m, flip in zip(self.params, self.m, self._scratch, strict=True):
            assert p.grad is not None
            m.lerp_(p.grad, _member_view(self.hyperparameters["gamma"], p))
            # flip is 1 where m * theta > threshold, else 0 (see bop_update)
            torch.mul(m, p, out=flip)
            flip.sub_(_member_view(self.hyperparameters["threshold"], p)).clamp_min_(0.0).sign_()
            flipped.append(_member_changes(flip, 1.0))
            p.addcmul_(flip, p, value=-2.0)
        return torch.stack(flipped).sum(0)


class BatchedFrozen(BatchedBinaryOptimizer):
    """The frozen control for K members (:class:`~trainers.optim.FrozenBinary`): no binary weight changes.

    Args:
        params: binary weights ``[K, ...]``.
    """

    def __init__(self, params: Sequence[Tensor]) -> None:
        super().__init__(params, {})

    def _check(self, hyperparameters: dict[str, Tensor]) -> None:
        """No hyperparameters to check."""

    def _update(self, factor: float) -> Tensor:
        return torch.zeros(self.members, dtype=exact_dtype(self.params[0].device), device=self.params[0].device)


class BatchedMixed(BatchedBinaryOptimizer):
    """Members of different BNN optimizers in one batch: each run of consecutive members has its own optimizer.

    A part covering members ``[start, start + K_part)`` is built on views of those members' slices of every
    parameter (``p.detach()[start:stop]``, see :meth:`member_views`), so its updates land in the batch's
    weights; before each of its updates it is given the same slices of the gradients. Every member is thus
    updated by its own optimizer's arithmetic, as in a batch of that optimizer alone. Each part is updated with
    the same ``factor``: the filter decays alpha and latent SGD decays lr by the same schedule.

    Args:
        params: the weights ``[K, ...]`` of all members.
        parts: ``(start, optimizer)`` pairs, in member order, covering every member once; each optimizer built
            on ``member_views(params, start, stop)``.

    Raises:
        InvalidInputError: see :class:`BatchedBinaryOptimizer`; parts that do not cover ``[0, K)`` in order, or
            a part not built on the views of its members.
    """

    def __init__(self, params: Sequence[Tensor], parts: Sequence[tuple[int, BatchedBinaryOptimizer]]) -> None:
        super().__init__(params, {})
        expected = 0
        for start, part in parts:
            if start != expected:
                raise InvalidInputError(
                    f"the parts must cover members 0..{self.members - 1} in order: "
                    f"a part starts at {start}, expected {expected}"
                )
            views = member_views(self.params, start, start + part.members)
            if [(v.data_ptr(), v.shape) for v in views] != [(v.data_ptr(), v.shape) for v in part.params]:
                raise InvalidInputError(f"the part at member {start} is not built on its members' weights")
            expected = start + part.members
        if expected != self.members:
            raise InvalidInputError(f"the parts cover {expected} of {self.members} members")
        self.parts = list(parts)

    def _check(self, hyperparameters: dict[str, Tensor]) -> None:
        """Each part checked its own hyperparameters."""

    def _update(self, factor: float) -> Tensor:
        flipped = []
        for start, part in self.parts:
            stop = start + part.members
            for view, p in zip(part.params, self.params, strict=True):
                assert p.grad is not None
                view.grad = p.grad[start:stop]
            flipped.append(part._update(factor))
        return torch.cat(flipped)


def member_views(params: Sequence[Tensor], start: int, stop: int) -> list[Tensor]:
    """Members ``[start, stop)`` of every parameter: views sharing the parameters' memory, for a part of
    :class:`BatchedMixed` to update in place."""
    return [p.detach()[start:stop] for p in params]
