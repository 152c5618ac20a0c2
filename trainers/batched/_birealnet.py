"""K Bi-Real Net-20 networks as one module, by grouped convolutions.

Member k's activations are channels ``k * C .. (k + 1) * C - 1`` of one tensor ``[batch, K * C, H, W]``.
Every member's conv is then one ``F.conv2d`` with ``groups=K`` and the weights ``[K, out, in, kh, kw]`` seen
as ``[K * out, in, kh, kw]``; a batch norm over the ``K * C`` channels normalizes each member's channels
over its own minibatch (``MemberBatchNorm2d``); sign, pooling and the shortcut sums act elementwise, so no
arithmetic mixes members. A shared minibatch ``[batch, 3, H, W]`` makes the stem one conv with ``K * 16``
outputs, and with per-member minibatches ``[K, batch, 3, H, W]`` member k's images are its input channels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bnn_errors import InvalidInputError
from trainers.batched._members import BatchedModel, MemberBatchNorm2d, MemberSetup, check_sizes
from trainers.layers import BinaryConv2d
from trainers.models import BiRealNet20
from trainers.models._activations import approx_sign

__all__ = ["BatchedBiRealNet20"]


def _grouped_conv(x: Tensor, weight: Tensor, *, stride: int = 1, groups: int) -> Tensor:
    """Member convs of ``x`` ``[batch, groups * in, H, W]`` with ``weight`` ``[K, out, in, kh, kw]``."""
    members, out, inp, kh, kw = weight.shape
    return F.conv2d(x, weight.reshape(members * out, inp, kh, kw), stride=stride, padding=kh // 2, groups=groups)


class _BatchedUnit(nn.Module):
    """K copies of one Bi-Real conv unit: BN(BinaryConv(sign(x))) + shortcut(x), on channel-stacked members."""

    def __init__(
        self,
        members: int,
        in_channels: int,
        out_channels: int,
        stride: int,
        *,
        device: torch.device,
        dtype: torch.dtype,
    ) -> None:
        super().__init__()
        self.stride = stride
        self.weight = nn.Parameter(torch.zeros(members, out_channels, in_channels, 3, 3, device=device, dtype=dtype))
        self.tie_signs: Tensor
        self.register_buffer("tie_signs", torch.ones_like(self.weight))
        self.bn = MemberBatchNorm2d(members, out_channels, device=device, dtype=dtype)
        # The real-valued downsampling of the single unit where the shape changes: AvgPool, 1x1 conv, BN.
        self.downsample = stride > 1 or in_channels != out_channels
        if self.downsample:
            self.shortcut_weight = nn.Parameter(
                torch.zeros(members, out_channels, in_channels, 1, 1, device=device, dtype=dtype)
            )
            self.shortcut_bn = MemberBatchNorm2d(members, out_channels, device=device, dtype=dtype)

    def forward(self, x: Tensor, binary: Tensor) -> Tensor:
        """The unit on ``x`` ``[batch, K * in, H, W]``, with ``binary`` the members' binary conv weights."""
        conv = _grouped_conv(approx_sign(x), binary, stride=self.stride, groups=self.weight.shape[0])
        return self.bn(conv) + self._shortcut(x)  # type: ignore[no-any-return]

    def _shortcut(self, x: Tensor) -> Tensor:
        if not self.downsample:
            return x
        if self.stride > 1:
            x = F.avg_pool2d(x, self.stride, ceil_mode=True)
        return self.shortcut_bn(_grouped_conv(x, self.shortcut_weight, groups=self.weight.shape[0]))  # type: ignore[no-any-return]

    @torch.no_grad()
    def load_member(self, k: int, unit: nn.Module) -> None:
        """Copy one unit of a single ``BiRealNet20`` into member slot ``k``."""
        conv, bn, shortcut = unit.conv, unit.bn, unit.shortcut
        assert isinstance(conv, BinaryConv2d) and isinstance(bn, nn.BatchNorm2d)
        self.weight[k].copy_(conv.weight)
        self.tie_signs[k].copy_(conv.tie_signs)
        self.bn.load_member(k, bn)
        if self.downsample:
            assert isinstance(shortcut, nn.Sequential)
            _, shortcut_conv, shortcut_bn = shortcut
            assert isinstance(shortcut_conv, nn.Conv2d) and isinstance(shortcut_bn, nn.BatchNorm2d)
            self.shortcut_weight[k].copy_(shortcut_conv.weight)
            self.shortcut_bn.load_member(k, shortcut_bn)


class BatchedBiRealNet20(BatchedModel):
    """K :class:`~trainers.models.BiRealNet20` networks for one image size, trained together.

    Member k has its own weights (stem, 18 binary convs with their ``tie_signs``, shortcut convs, classifier),
    its own batch norms and its own latent-weight options ``ste_clip[k]`` and ``scaling[k]``; the init scale
    acts through the weights loaded by :meth:`load_member`.

    Args:
        members: K, >= 1.
        num_classes: outputs per member.
        image_shape: (3, height, width) of one image.
        ste_clip: per member, zero the straight-through gradient where |w| > 1.
        scaling: per member, multiply the binary weights by the output channel's mean(|w|).
        sign_weights: the binary weights hold -1 or +1 at all times (filter optimizer, Bop): used as they are.
        device: where the weights live.
        dtype: floating point type of the weights and activations.

    Raises:
        InvalidInputError: a size below 1, an image shape that is not (3, height, width), or ``ste_clip`` /
            ``scaling`` not of length ``members``.
    """

    def __init__(
        self,
        members: int,
        num_classes: int,
        image_shape: tuple[int, ...],
        *,
        ste_clip: Sequence[bool],
        scaling: Sequence[bool],
        sign_weights: bool = False,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        check_sizes(members=members, num_classes=num_classes)
        if len(image_shape) != 3 or image_shape[0] != 3 or min(image_shape) < 1:
            raise InvalidInputError(f"BiRealNet20 takes (3, height, width) images, got {tuple(image_shape)}")
        super().__init__()
        device = torch.device(device)
        self.members = members
        self.sample_shape = tuple(image_shape)
        self.num_classes = num_classes
        self.set_binary_options(ste_clip, scaling, sign_weights=sign_weights, device=device)
        in_channels = BiRealNet20.stage_channels[0]
        self.stem_weight = nn.Parameter(torch.zeros(members, in_channels, 3, 3, 3, device=device, dtype=dtype))
        self.stem_bn = MemberBatchNorm2d(members, in_channels, device=device, dtype=dtype)
        units: list[_BatchedUnit] = []
        # The single network's layout, unit for unit.
        for stage, channels in enumerate(BiRealNet20.stage_channels):
            for block in range(BiRealNet20.blocks_per_stage):
                stride = 2 if stage > 0 and block == 0 else 1
                for unit_in, unit_stride in ((in_channels, stride), (channels, 1)):
                    units.append(_BatchedUnit(members, unit_in, channels, unit_stride, device=device, dtype=dtype))
                in_channels = channels
        self.units = nn.ModuleList(units)
        self.classifier_weight = nn.Parameter(
            torch.zeros(members, num_classes, in_channels, device=device, dtype=dtype)
        )
        self.classifier_bias = nn.Parameter(torch.zeros(members, num_classes, device=device, dtype=dtype))

    @classmethod
    def like(cls, single: nn.Module, setup: MemberSetup) -> BatchedBiRealNet20:
        """K members like the single ``BiRealNet20`` ``single``, for images of ``setup.sample_shape``, not loaded.

        Raises:
            InvalidInputError: ``single`` is not a ``BiRealNet20``, or the samples are not (3, height, width).
        """
        if not isinstance(single, BiRealNet20):
            raise InvalidInputError(f"expected a BiRealNet20, got {type(single).__name__}")
        return cls(
            setup.members,
            single.classifier.out_features,
            setup.sample_shape,
            ste_clip=setup.ste_clip,
            scaling=setup.scaling,
            sign_weights=setup.sign_weights,
            device=setup.device,
            dtype=setup.dtype,
        )

    def binary_weights(self) -> list[nn.Parameter]:
        """The 18 binary conv weights, in the single network's module order."""
        return [unit.weight for unit in self._units()]

    @torch.no_grad()
    def load_member(self, k: int, model: nn.Module) -> None:
        """Copy the weights, tie signs and batch-norm state of ``model`` (a BiRealNet20) into slot ``k``.

        Raises:
            InvalidInputError: ``k`` out of range, or ``model`` not a BiRealNet20 with this many classes.
        """
        self.check_member(k)
        if not isinstance(model, BiRealNet20) or model.classifier.out_features != self.num_classes:
            raise InvalidInputError(f"expected a BiRealNet20 of {self.num_classes} classes, got {type(model).__name__}")
        stem_conv, stem_bn = model.stem
        assert isinstance(stem_conv, nn.Conv2d) and isinstance(stem_bn, nn.BatchNorm2d)
        self.stem_weight[k].copy_(stem_conv.weight)
        self.stem_bn.load_member(k, stem_bn)
        for unit, single_unit in zip(self._units(), model.features, strict=True):
            unit.load_member(k, single_unit)
        self.classifier_weight[k].copy_(model.classifier.weight)
        self.classifier_bias[k].copy_(model.classifier.bias)

    def _units(self) -> list[_BatchedUnit]:
        return [cast(_BatchedUnit, unit) for unit in self.units]

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``[K, num_classes, batch]`` of shared images ``[batch, 3, H, W]`` or ``[K, batch, 3, H, W]``.

        Raises:
            InvalidInputError: ``x`` has neither shape.
        """
        members = self.members
        if self.is_shared_input(x):
            h = _grouped_conv(x, self.stem_weight, groups=1)
        else:
            # member k's images become input channels 3k .. 3k + 2
            _, batch, channels, height, width = x.shape
            stacked = x.transpose(0, 1).reshape(batch, members * channels, height, width)
            h = _grouped_conv(stacked, self.stem_weight, groups=members)
        h = self.stem_bn(h)
        for unit in self._units():
            h = unit(h, self.binary(unit.weight, unit.tie_signs))
        batch = h.shape[0]
        features = F.adaptive_avg_pool2d(h, 1).view(batch, members, -1).permute(1, 2, 0)  # [K, channels, batch]
        return torch.baddbmm(self.classifier_bias.unsqueeze(2), self.classifier_weight, features)
