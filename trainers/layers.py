"""Binary layers: sign activations and binary weights with a straight-through estimator (STE).

A binary layer keeps a real-valued tensor ``weight`` and uses ``sign(weight)`` in its forward pass. What that
tensor *means* depends on the BNN optimizer: for latent-weight SGD it is the latent weight w (whose magnitude
matters only through clipping, scaling and the init scale), for the filter optimizer and Bop it holds the binary
weight theta itself (values in {-1, +1}).

The latent-weight hyperparameters that live in the layer (paper Table 1), each switchable:

- ``init_scale`` (w0): latent weights start uniform in [-init_scale, init_scale]; 0 gives w0 = 0, the
  magnitude-independent setting of the paper.
- ``ste_clip``: the STE passes no gradient where |w| > 1 (the usual "gradient clipping" of BNNs).
- ``scaling``: the binary weights are multiplied by the channel-wise mean(|w|) (XNOR-Net style).

Where a weight is exactly 0 its sign is taken from ``tie_signs``, a fixed random +-1 buffer drawn at
construction, so that w0 = 0 still gives a usable network and matches the filter optimizer, which also picks a
random sign where its state is exactly zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bnn_errors import InvalidInputError

__all__ = [
    "BinaryConv2d",
    "BinaryLayer",
    "BinaryOptions",
    "BinaryLinear",
    "SignSTE",
    "binarize_weight",
    "sign_ste",
]


@dataclass(frozen=True)
class BinaryOptions:
    """The latent-weight hyperparameters that live in binary layers (see the module docstring)."""

    init_scale: float = 1.0
    ste_clip: bool = False
    scaling: bool = False

    def __post_init__(self) -> None:
        if not self.init_scale >= 0:
            raise InvalidInputError(f"init_scale must be >= 0, got {self.init_scale}")


class SignSTE(torch.autograd.Function):
    """sign(x) forward; gradient passed through where |x| <= 1 (clipped identity STE)."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: Tensor) -> Tensor:
        ctx.save_for_backward(x)
        return torch.where(x >= 0, 1.0, -1.0).to(x.dtype)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: Tensor) -> Tensor:
        x: Tensor = ctx.saved_tensors[0]  # type: ignore[attr-defined]
        return grad * (x.abs() <= 1).to(grad.dtype)


def sign_ste(x: Tensor) -> Tensor:
    """Binary activation: +-1 forward (0 maps to +1), clipped-identity gradient."""
    return SignSTE.apply(x)  # type: ignore[no-any-return, no-untyped-call]


class _WeightSign(torch.autograd.Function):
    """sign(w) with ties broken by a fixed sign; identity gradient, optionally zero where |w| > 1."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, w: Tensor, tie_signs: Tensor, ste_clip: bool) -> Tensor:
        if ste_clip:
            ctx.save_for_backward(w)
        ctx.ste_clip = ste_clip  # type: ignore[attr-defined]
        return torch.where(w == 0, tie_signs, torch.sign(w))

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: Tensor) -> tuple[Tensor, None, None]:
        if ctx.ste_clip:  # type: ignore[attr-defined]
            (w,) = ctx.saved_tensors  # type: ignore[attr-defined]
            grad = grad * (w.abs() <= 1).to(grad.dtype)
        return grad, None, None


def binarize_weight(w: Tensor, tie_signs: Tensor, *, ste_clip: bool, scaling: bool) -> Tensor:
    """The binary weight used in the forward pass: sign(w), scaled by mean(|w|) per output channel if asked."""
    binary: Tensor = _WeightSign.apply(w, tie_signs, ste_clip)  # type: ignore[no-untyped-call]
    if scaling:
        dims = tuple(range(1, w.dim()))
        binary = binary * w.abs().mean(dim=dims, keepdim=True)
    return binary  # type: ignore[no-any-return]


class BinaryLayer(nn.Module):
    """Marks a module whose ``weight`` is binary; the optimizer helpers route it to the BNN optimizer."""

    weight: nn.Parameter
    tie_signs: Tensor
    ste_clip: bool
    scaling: bool
    holds_binary: bool

    def _init_binary(self, init_scale: float, ste_clip: bool, scaling: bool) -> None:
        if init_scale < 0:
            raise InvalidInputError(f"init_scale must be >= 0, got {init_scale}")
        self.ste_clip = ste_clip
        self.scaling = scaling
        self.holds_binary = False
        with torch.no_grad():
            self.weight.uniform_(-init_scale, init_scale)
        ties = torch.where(torch.rand_like(self.weight) < 0.5, -1.0, 1.0).to(self.weight.dtype)
        self.register_buffer("tie_signs", ties)

    def binary_weight(self) -> Tensor:
        if self.holds_binary and not self.scaling:
            # The weight is theta itself, kept in {-1, +1} by the filter optimizer or Bop: sign is the identity, and
            # so is the STE's gradient, clipping (|w| <= 1) included. Scaling still adds a gradient term: not here.
            return self.weight
        return binarize_weight(self.weight, self.tie_signs, ste_clip=self.ste_clip, scaling=self.scaling)

    @torch.no_grad()
    def binarize_(self) -> None:
        """Replace the stored weight by its sign (ties broken by ``tie_signs``): the start state of theta.

        From then on the layer uses the weight as it is; only optimizers that keep it in {-1, +1} may train it.
        """
        self.weight.copy_(torch.where(self.weight == 0, self.tie_signs, torch.sign(self.weight)))
        self.holds_binary = True


class BinaryLinear(nn.Linear, BinaryLayer):  # type: ignore[misc]  # torch types weight as Tensor
    """Fully connected layer with binary weights (inputs are binarized by the model, not here)."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = False,
        *,
        init_scale: float = 1.0,
        ste_clip: bool = False,
        scaling: bool = False,
    ) -> None:
        super().__init__(in_features, out_features, bias=bias)
        self._init_binary(init_scale, ste_clip, scaling)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.binary_weight(), self.bias)


class BinaryConv2d(nn.Conv2d, BinaryLayer):  # type: ignore[misc]  # torch types weight as Tensor
    """2-D convolution with binary weights (inputs are binarized by the model, not here)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        groups: int = 1,
        bias: bool = False,
        *,
        init_scale: float = 1.0,
        ste_clip: bool = False,
        scaling: bool = False,
    ) -> None:
        super().__init__(
            in_channels, out_channels, kernel_size, stride=stride, padding=padding, groups=groups, bias=bias
        )
        self._init_binary(init_scale, ste_clip, scaling)

    def forward(self, x: Tensor) -> Tensor:
        return self._conv_forward(x, self.binary_weight(), self.bias)  # type: ignore[no-any-return]
