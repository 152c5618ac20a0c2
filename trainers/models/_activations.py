"""Binary activations with learnable shapes: Bi-Real Net's ApproxSign, ReActNet's RSign and RPReLU.

ReActNet calls the RSign threshold and the RPReLU shifts alpha, gamma and zeta; here they are
``threshold``, ``shift_in`` and ``shift_out``, because alpha and gamma name the filter optimizer's
hyperparameters in this project.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["ApproxSign", "RPReLU", "RSign", "approx_sign"]


class ApproxSign(torch.autograd.Function):
    """sign(x) forward (0 maps to +1); the gradient of Bi-Real Net's piecewise-polynomial ApproxSign backward.

    ApproxSign is 2x + x^2 on [-1, 0), 2x - x^2 on [0, 1) and +-1 elsewhere, so its derivative is 2 + 2x
    on [-1, 0), 2 - 2x on [0, 1) and 0 elsewhere, i.e. max(0, 2 - 2|x|): a closer fit to the Dirac delta of
    sign than the clipped identity STE (Liu et al. 2018, "Bi-Real Net", Eq 6-7).
    """

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: Tensor) -> Tensor:
        ctx.save_for_backward(x)
        return torch.where(x >= 0, 1.0, -1.0).to(x.dtype)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: Tensor) -> Tensor:
        x: Tensor = ctx.saved_tensors[0]  # type: ignore[attr-defined]
        slope = (1 - x.abs()).clamp_(min=0).mul_(2)
        return grad * slope


def approx_sign(x: Tensor) -> Tensor:
    """Binary activation: +-1 forward (0 maps to +1), ApproxSign gradient (see `ApproxSign`)."""
    return ApproxSign.apply(x)  # type: ignore[no-any-return, no-untyped-call]


class RSign(nn.Module):
    """ReActNet's RSign: sign(x - threshold) with a learnable threshold per channel (NCHW inputs).

    Args:
        channels: number of channels (dimension 1 of the input).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.threshold = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        """+-1 of the same shape as ``x`` (N, channels, H, W)."""
        return approx_sign(x - self.threshold)


class RPReLU(nn.Module):
    """ReActNet's RPReLU: PReLU(x - shift_in) + shift_out, with per-channel shifts and slopes (NCHW inputs).

    The shifts start at 0 and the negative slopes at 0.25 (PyTorch's PReLU default, as in ReActNet).

    Args:
        channels: number of channels (dimension 1 of the input).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.shift_in = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.slope = nn.Parameter(torch.full((channels,), 0.25))
        self.shift_out = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        """The activation of ``x`` (N, channels, H, W), same shape."""
        return F.prelu(x - self.shift_in, self.slope) + self.shift_out
