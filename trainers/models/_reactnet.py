"""ReActNet-A (Liu et al. 2020): a binary MobileNet-V1 with RSign and RPReLU, for ImageNet."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from trainers.layers import BinaryOptions
from trainers.models._activations import RPReLU, RSign
from trainers.models._common import DEFAULT_BINARY, binary_conv, check_positive

__all__ = ["ReActNetA"]

# MobileNet-V1's output channels after the stem, one entry per block; a block whose channels grow has
# stride 2, except the first (32 -> 64), as in MobileNet-V1.
_BLOCK_CHANNELS = (64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024)
_STEM_CHANNELS = 32


class _ReActBlock(nn.Module):
    """A binary 3x3 conv and a binary 1x1 conv, each with a shortcut, RSign before and RPReLU after.

    Where the channels double, the 1x1 conv is duplicated and the two outputs (each plus the shortcut) are
    concatenated, so the shortcut stays an identity; where the stride is 2, the 3x3 conv's shortcut is an
    AvgPool.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int, binary: BinaryOptions) -> None:
        super().__init__()
        self.sign3x3 = RSign(in_channels)
        self.conv3x3 = binary_conv(in_channels, in_channels, 3, binary, stride=stride)
        self.bn3x3 = nn.BatchNorm2d(in_channels)
        self.pool: nn.Module = nn.AvgPool2d(2, ceil_mode=True) if stride == 2 else nn.Identity()
        self.act3x3 = RPReLU(in_channels)
        self.sign1x1 = RSign(in_channels)
        copies = out_channels // in_channels
        self.convs1x1 = nn.ModuleList(binary_conv(in_channels, in_channels, 1, binary) for _ in range(copies))
        self.bns1x1 = nn.ModuleList(nn.BatchNorm2d(in_channels) for _ in range(copies))
        self.act1x1 = RPReLU(out_channels)

    def forward(self, x: Tensor) -> Tensor:
        x = self.act3x3(self.bn3x3(self.conv3x3(self.sign3x3(x))) + self.pool(x))
        binary_x = self.sign1x1(x)
        outs = [bn(conv(binary_x)) + x for conv, bn in zip(self.convs1x1, self.bns1x1, strict=True)]
        return self.act1x1(outs[0] if len(outs) == 1 else torch.cat(outs, dim=1))  # type: ignore[no-any-return]


class ReActNetA(nn.Module):
    """ReActNet-A for 3-channel images (ImageNet: 224x224; any size works thanks to adaptive pooling).

    Real-valued 3x3 stem conv (3 -> 32, stride 2) + BN; 13 binary blocks following MobileNet-V1's channels
    (32 to 1024) and strides (full 3x3 convs instead of depthwise ones); adaptive average pooling and a
    real-valued linear classifier.

    Args:
        num_classes: number of classes (outputs).
        binary: latent-weight hyperparameters of the binary convs.

    Raises:
        InvalidInputError: ``num_classes`` is not a positive integer.
    """

    def __init__(self, num_classes: int = 1000, *, binary: BinaryOptions = DEFAULT_BINARY) -> None:
        check_positive(num_classes=num_classes)
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, _STEM_CHANNELS, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(_STEM_CHANNELS)
        )
        blocks: list[nn.Module] = []
        in_channels = _STEM_CHANNELS
        for channels in _BLOCK_CHANNELS:
            stride = 2 if channels != in_channels and in_channels != _STEM_CHANNELS else 1
            blocks.append(_ReActBlock(in_channels, channels, stride, binary))
            in_channels = channels
        self.features = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(in_channels, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """Logits (N, num_classes) of images (N, 3, H, W)."""
        x = self.features(self.stem(x))
        return self.classifier(self.pool(x).flatten(1))  # type: ignore[no-any-return]
