"""What every batched model shares: the member dimension K, per-member batch norm and binary weights.

A batched model holds K networks of one architecture; every parameter carries a leading member dimension,
so the BNN optimizers and Adam act on each member's slice as the single optimizers act on one network, and
a member whose weights turn NaN reaches no other member (members share no arithmetic).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bnn_errors import InvalidInputError

__all__ = [
    "BatchedModel",
    "MemberBatchNorm",
    "MemberBatchNorm2d",
    "MemberSetup",
    "check_sizes",
    "member_flags",
    "members_binary",
]


@dataclass(frozen=True)
class MemberSetup:
    """What the members of a batched model need besides the architecture: their latent-weight options and
    where and on what they compute.

    ``ste_clip[k]`` and ``scaling[k]`` are member k's options (one flag per member); ``sign_weights``: the
    binary weights hold -1 or +1 at all times (the filter optimizer and Bop keep them so) and are used as they
    are, the same forward and backward pass without the sign; ``sample_shape`` is one sample's shape in the
    task's data (``TaskData.input_shape``).
    """

    ste_clip: tuple[bool, ...]
    scaling: tuple[bool, ...]
    sign_weights: bool
    device: torch.device
    dtype: torch.dtype
    sample_shape: tuple[int, ...]

    @property
    def members(self) -> int:
        """K: one flag of ``ste_clip`` per member."""
        return len(self.ste_clip)


class BatchedModel(nn.Module, ABC):
    """K networks of one architecture as one module, trained by ``trainers.batched.train_batch``.

    ``forward`` takes a shared minibatch ``[batch, *sample_shape]`` or one per member
    ``[K, batch, *sample_shape]`` and returns logits ``[K, num_classes, batch]``.
    """

    members: int
    sample_shape: tuple[int, ...]
    sign_weights: bool
    _clip: Tensor | None
    _scaling: Tensor | None

    @classmethod
    @abstractmethod
    def like(cls, single: nn.Module, setup: MemberSetup) -> BatchedModel:
        """``setup.members`` members of the architecture and size of the single network ``single``, not loaded.

        Raises:
            InvalidInputError: ``single`` is not this architecture, or the samples do not fit it.
        """

    @abstractmethod
    def binary_weights(self) -> list[nn.Parameter]:
        """The binary (or latent) weights, in the order ``split_parameters`` gives for one network."""

    @abstractmethod
    def load_member(self, k: int, model: nn.Module) -> None:
        """Copy the weights, tie signs and batch-norm state of the single network ``model`` into slot ``k``."""

    def real_parameters(self) -> list[nn.Parameter]:
        """Every parameter that is not a binary weight, for Adam."""
        binary = {id(p) for p in self.binary_weights()}
        return [p for p in self.parameters() if id(p) not in binary]

    @property
    def dtype(self) -> torch.dtype:
        """Floating point type of the weights and activations."""
        return next(self.parameters()).dtype

    def set_binary_options(
        self, ste_clip: Sequence[bool], scaling: Sequence[bool], *, sign_weights: bool, device: torch.device
    ) -> None:
        """Set the members' latent-weight options, as :meth:`binary` applies them.

        Raises:
            InvalidInputError: ``ste_clip`` or ``scaling`` is not one flag per member.
        """
        self.sign_weights = sign_weights
        self._clip = member_flags(ste_clip, self.members, "ste_clip", device)
        self._scaling = member_flags(scaling, self.members, "scaling", device)

    def binary(self, w: Tensor, tie_signs: Tensor) -> Tensor:
        """Every member's binary weight of its weights ``w`` ``[K, out, ...]`` (see :func:`members_binary`)."""
        if self.sign_weights:
            # weights of -1 and +1 are their own signs, scaling by mean(|w|) = 1 is the identity, and the
            # clipped STE passes every gradient
            return w
        return members_binary(w, tie_signs, self._clip, self._scaling)

    def check_member(self, k: int) -> None:
        """Raise `InvalidInputError` unless ``k`` is a member slot."""
        if not 0 <= k < self.members:
            raise InvalidInputError(f"member {k} out of range [0, {self.members})")

    def is_shared_input(self, x: Tensor) -> bool:
        """Whether ``x`` is a shared minibatch (True) or one per member (False).

        Raises:
            InvalidInputError: ``x`` has neither shape.
        """
        sample = self.sample_shape
        if x.dim() == 1 + len(sample) and tuple(x.shape[1:]) == sample:
            return True
        if x.dim() == 2 + len(sample) and x.shape[0] == self.members and tuple(x.shape[2:]) == sample:
            return False
        shape = ", ".join(str(s) for s in sample)
        raise InvalidInputError(
            f"expected inputs [batch, {shape}] or [{self.members}, batch, {shape}], got {tuple(x.shape)}"
        )


def check_sizes(**sizes: int) -> None:
    """Raise `InvalidInputError` naming the first of the batched model's ``sizes`` (name=value) below 1."""
    for name, value in sizes.items():
        if value < 1:
            raise InvalidInputError(f"{name} must be >= 1, got {value}")


def member_flags(flags: Sequence[bool], members: int, name: str, device: torch.device) -> Tensor | None:
    """One latent-weight option per member as ``[K]`` booleans; None where no member uses it (costs nothing).

    Raises:
        InvalidInputError: not one flag per member.
    """
    if len(flags) != members:
        raise InvalidInputError(f"{name} needs one flag per member ({members}), got {len(flags)}")
    return torch.tensor(list(flags), dtype=torch.bool, device=device) if any(flags) else None


def _per_member(values: Tensor, like: Tensor) -> Tensor:
    """``values`` ``[K]`` shaped to broadcast over ``like`` ``[K, ...]``."""
    return values.view(-1, *([1] * (like.dim() - 1)))


class _MemberWeightSign(torch.autograd.Function):
    """sign(w), ties broken by fixed signs; identity gradient, zero where |w| > 1 for the clipping members."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, w: Tensor, tie_signs: Tensor, clip: Tensor | None) -> Tensor:
        if clip is not None:
            ctx.save_for_backward(w, clip)
        ctx.clipped = clip is not None  # type: ignore[attr-defined]
        # sign(2 sign(w) + tie) is sign(w) where w != 0 and the tie sign where w == 0: elementwise passes,
        # several times cheaper on CPU than torch.where with its boolean mask.
        return torch.sign(w).mul_(2.0).add_(tie_signs).sign_()

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: Tensor) -> tuple[Tensor, None, None]:
        if ctx.clipped:  # type: ignore[attr-defined]
            w, clip = ctx.saved_tensors  # type: ignore[attr-defined]
            grad = grad * ((w.abs() <= 1) | ~_per_member(clip, w)).to(grad.dtype)
        return grad, None, None


def members_binary(w: Tensor, tie_signs: Tensor, clip: Tensor | None, scaling: Tensor | None) -> Tensor:
    """Each member's binary weight of latent weights ``w`` ``[K, out, ...]``, as ``binarize_weight`` gives it.

    ``clip[k]`` zeroes member k's straight-through gradient where |w| > 1; ``scaling[k]`` multiplies its
    binary weights by the output channel's mean(|w|). None: no member does.
    """
    binary: Tensor = _MemberWeightSign.apply(w, tie_signs, clip)  # type: ignore[no-untyped-call]
    if scaling is not None:
        dims = tuple(range(2, w.dim()))
        binary = binary * torch.where(_per_member(scaling, w), w.abs().mean(dim=dims, keepdim=True), 1.0)
    return binary


class MemberBatchNorm(nn.Module):
    """``BatchNorm1d`` for each of K members, on feature-major activations ``[K, channels, batch]``.

    Same defaults as ``nn.BatchNorm1d`` (momentum 0.1, eps 1e-5, unbiased running variance): it is one
    ``F.batch_norm`` over ``K * channels`` channels, where the statistics of channel (k, c) are those of
    member k's own activations.
    """

    def __init__(self, members: int, channels: int, *, device: torch.device, dtype: torch.dtype) -> None:
        super().__init__()
        self.eps = 1e-5
        self.momentum = 0.1
        self.weight = nn.Parameter(torch.ones(members, channels, device=device, dtype=dtype))
        self.bias = nn.Parameter(torch.zeros(members, channels, device=device, dtype=dtype))
        self.register_buffer("running_mean", torch.zeros(members, channels, device=device, dtype=dtype))
        self.register_buffer("running_var", torch.ones(members, channels, device=device, dtype=dtype))
        self.running_mean: Tensor
        self.running_var: Tensor

    def forward(self, h: Tensor) -> Tensor:
        """Normalize ``h`` of shape ``[K, channels, batch]`` per member and channel."""
        members, channels, batch = h.shape
        return self.normalize(h.reshape(1, members * channels, batch)).view(members, channels, batch)

    def normalize(self, h: Tensor) -> Tensor:
        """``F.batch_norm`` of ``h`` whose dimension 1 holds the K * channels member channels, k-major."""
        return F.batch_norm(
            h,
            self.running_mean.view(-1),
            self.running_var.view(-1),
            self.weight.view(-1),
            self.bias.view(-1),
            training=self.training,
            momentum=self.momentum,
            eps=self.eps,
        )

    @torch.no_grad()
    def load_member(self, k: int, bn: nn.modules.batchnorm._BatchNorm) -> None:
        """Copy ``bn``'s affine parameters and running statistics into member slot ``k``."""
        self.weight[k].copy_(bn.weight)
        self.bias[k].copy_(bn.bias)
        self.running_mean[k].copy_(bn.running_mean)  # type: ignore[arg-type]
        self.running_var[k].copy_(bn.running_var)  # type: ignore[arg-type]


class MemberBatchNorm2d(MemberBatchNorm):
    """``BatchNorm2d`` for each of K members, on channel-stacked images ``[batch, K * channels, H, W]``."""

    def forward(self, h: Tensor) -> Tensor:
        """Normalize ``h`` of shape ``[batch, K * channels, H, W]`` per member and channel."""
        return self.normalize(h)
