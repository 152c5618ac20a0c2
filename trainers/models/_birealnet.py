"""Bi-Real Net (Liu et al. 2018) in the ResNet-20 layout, for CIFAR-10."""

from __future__ import annotations

from torch import Tensor, nn

from trainers.layers import BinaryOptions
from trainers.models._activations import approx_sign
from trainers.models._common import DEFAULT_BINARY, binary_conv, check_positive

__all__ = ["BiRealNet20"]


def _shortcut(in_channels: int, out_channels: int, stride: int) -> nn.Module:
    """Identity, or where the shape changes Bi-Real Net's real-valued downsampling: AvgPool, 1x1 conv, BN."""
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    # Pooling before a stride-1 conv keeps every input position, unlike a strided 1x1 conv; ceil_mode matches
    # the output size of the padded 3x3 conv on odd sizes.
    pool: nn.Module = nn.AvgPool2d(stride, ceil_mode=True) if stride > 1 else nn.Identity()
    return nn.Sequential(pool, nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels))


class _BiRealConv(nn.Module):
    """One binary 3x3 conv with its own shortcut: BN(BinaryConv(sign(x))) + shortcut(x)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, binary: BinaryOptions) -> None:
        super().__init__()
        self.conv = binary_conv(in_channels, out_channels, 3, binary, stride=stride)
        self.bn = nn.BatchNorm2d(out_channels)
        self.shortcut = _shortcut(in_channels, out_channels, stride)

    def forward(self, x: Tensor) -> Tensor:
        return self.bn(self.conv(approx_sign(x))) + self.shortcut(x)  # type: ignore[no-any-return]


class BiRealNet20(nn.Module):
    """Bi-Real Net with the ResNet-20 layout for 3-channel images (CIFAR-10: 32x32).

    Real-valued 3x3 conv (3 -> 16) + BN; three stages of three basic blocks (16, 32, 64 channels, stride 2 at
    the start of stages 2 and 3), each block two binary 3x3 convs with a shortcut around each (the Bi-Real
    connection keeps the real-valued activations flowing past every sign); global average pooling and a
    real-valued linear classifier. Binary activations use the ApproxSign gradient.

    Args:
        num_classes: number of classes (outputs).
        binary: latent-weight hyperparameters of the 18 binary convs.

    Raises:
        InvalidInputError: ``num_classes`` is not a positive integer.
    """

    stage_channels = (16, 32, 64)
    blocks_per_stage = 3

    def __init__(self, num_classes: int = 10, *, binary: BinaryOptions = DEFAULT_BINARY) -> None:
        check_positive(num_classes=num_classes)
        super().__init__()
        in_channels = self.stage_channels[0]
        self.stem = nn.Sequential(nn.Conv2d(3, in_channels, 3, padding=1, bias=False), nn.BatchNorm2d(in_channels))
        units: list[nn.Module] = []
        for stage, channels in enumerate(self.stage_channels):
            for block in range(self.blocks_per_stage):
                stride = 2 if stage > 0 and block == 0 else 1
                units.append(_BiRealConv(in_channels, channels, stride, binary))
                units.append(_BiRealConv(channels, channels, 1, binary))
                in_channels = channels
        self.features = nn.Sequential(*units)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(in_channels, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """Logits (N, num_classes) of images (N, 3, H, W)."""
        x = self.features(self.stem(x))
        return self.classifier(self.pool(x).flatten(1))  # type: ignore[no-any-return]
