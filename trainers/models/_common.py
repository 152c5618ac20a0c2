"""Helpers shared by the models: binary layers built from `BinaryOptions`, argument checks."""

from __future__ import annotations

from bnn_errors import InvalidInputError
from trainers.layers import BinaryConv2d, BinaryLinear, BinaryOptions

DEFAULT_BINARY = BinaryOptions()
"""The default latent-weight hyperparameters (init scale 1, no clipping, no scaling); frozen, so shareable."""


def binary_linear(in_features: int, out_features: int, binary: BinaryOptions) -> BinaryLinear:
    """A bias-free `BinaryLinear` with the latent-weight hyperparameters of ``binary``."""
    return BinaryLinear(
        in_features,
        out_features,
        init_scale=binary.init_scale,
        ste_clip=binary.ste_clip,
        scaling=binary.scaling,
    )


def binary_conv(
    in_channels: int, out_channels: int, kernel_size: int, binary: BinaryOptions, *, stride: int = 1
) -> BinaryConv2d:
    """A bias-free, 'same'-padded `BinaryConv2d` with the latent-weight hyperparameters of ``binary``."""
    return BinaryConv2d(
        in_channels,
        out_channels,
        kernel_size,
        stride=stride,
        padding=kernel_size // 2,
        init_scale=binary.init_scale,
        ste_clip=binary.ste_clip,
        scaling=binary.scaling,
    )


def check_positive(**values: int) -> None:
    """Raise `InvalidInputError` naming the first of ``values`` that is not a positive integer."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidInputError(f"{name} must be a positive integer, got {value!r}")
