"""K AudioFC networks as one module: every weight carries a leading member dimension K.

Activations are kept feature-major, ``[K, channels, batch]``: a layer is then ``torch.bmm(weight, h)`` with
the weight ``[K, out, in]`` as stored, and the per-member batch norm is one ``F.batch_norm`` over
``K * channels`` channels of a ``[1, K * channels, batch]`` view (the statistics of channel (k, c) are those
of member k's own minibatch), the function the single network's ``BatchNorm1d`` calls. A shared minibatch
``[batch, in]`` turns the first layer into one wide matmul ``[K * width, in] x [in, batch]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from bnn_errors import InvalidInputError
from trainers.batched._members import BatchedModel, MemberBatchNorm, MemberSetup, check_sizes
from trainers.layers import sign_ste
from trainers.models import AudioFC

__all__ = ["BatchedAudioFC"]


class _FirstLayer(torch.autograd.Function):
    """The real-valued first layer, ``[K, width, in]`` weights times member (or shared) inputs.

    The weight's gradient is written into ``grad`` (kept between steps and set as ``w.grad``, overwritten by
    every backward pass) rather than returned to autograd: a fresh gradient as large as the layer (50 MB for
    40 members of width 256) is served by fresh pages from the system every step, whose page faults cost as
    much as the matmul that fills them.
    """

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, w: Tensor, x: Tensor, grad: Tensor | None) -> Tensor:
        ctx.save_for_backward(w, x)
        ctx.grad = grad  # type: ignore[attr-defined]
        members, width, in_features = w.shape
        if x.dim() == 2:
            # a shared minibatch: one wide matmul for all members
            return (w.view(members * width, in_features) @ x.t()).view(members, width, x.shape[0])
        return torch.bmm(w, x.transpose(1, 2))

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad_h: Tensor) -> tuple[None, Tensor | None, None]:
        w, x = ctx.saved_tensors  # type: ignore[attr-defined]
        grad: Tensor | None = ctx.grad  # type: ignore[attr-defined]
        members, width, in_features = w.shape
        if ctx.needs_input_grad[0]:  # type: ignore[attr-defined]
            assert grad is not None, "the forward pass ran without a gradient buffer"
            if x.dim() == 2:
                torch.mm(grad_h.reshape(members * width, -1), x, out=grad.view(members * width, in_features))
            else:
                torch.bmm(grad_h, x, out=grad)
            w.grad = grad
        grad_x = None
        if ctx.needs_input_grad[1]:  # type: ignore[attr-defined]
            if x.dim() == 2:
                grad_x = grad_h.reshape(members * width, -1).t() @ w.view(members * width, in_features)
            else:
                grad_x = torch.bmm(grad_h.transpose(1, 2), w)
        return None, grad_x, None


class BatchedAudioFC(BatchedModel):
    """K :class:`~trainers.models.AudioFC` networks of one size, trained together.

    Member k has its own weights (``fc1`` ``[K, width, in]``; binary ``fc2``, ``fc3`` ``[K, width, width]``
    and ``fc4`` ``[K, classes, width]`` with their ``tie_signs``), its own batch norms and its own
    latent-weight options: ``ste_clip[k]`` and ``scaling[k]`` act on member k only (the init scale acts
    through the weights loaded by :meth:`load_member`). Members share no arithmetic, so a member whose weights
    turn NaN leaves the others untouched. Each backward pass overwrites ``fc1.grad`` (a buffer kept between
    steps) instead of adding to it: zero or drop the gradients before every backward pass, as training does.

    Args:
        members: K, >= 1.
        in_features: features per sample.
        num_classes: outputs per member.
        width: hidden units of every member.
        ste_clip: per member, zero the straight-through gradient where |w| > 1.
        scaling: per member, multiply the binary weights by the output channel's mean(|w|).
        sign_weights: the binary weights hold -1 or +1 at all times (the filter optimizer and Bop keep them
            so), and are used as they are: the same forward and backward pass, without the sign.
        device: where the weights live.
        dtype: floating point type of the weights and activations.

    Raises:
        InvalidInputError: a size below 1, or ``ste_clip`` / ``scaling`` not of length ``members``.
    """

    def __init__(
        self,
        members: int,
        in_features: int,
        num_classes: int,
        width: int,
        *,
        ste_clip: Sequence[bool],
        scaling: Sequence[bool],
        sign_weights: bool = False,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        check_sizes(members=members, in_features=in_features, num_classes=num_classes, width=width)
        super().__init__()
        device = torch.device(device)
        self.members = members
        self.sample_shape = (in_features,)
        self.in_features = in_features
        self.num_classes = num_classes
        self.width = width

        def weight(out: int, inp: int) -> nn.Parameter:
            return nn.Parameter(torch.zeros(members, out, inp, device=device, dtype=dtype))

        self.fc1 = weight(width, in_features)
        self.fc2 = weight(width, width)
        self.fc3 = weight(width, width)
        self.fc4 = weight(num_classes, width)
        self.fc2_tie_signs: Tensor
        self.fc3_tie_signs: Tensor
        self.fc4_tie_signs: Tensor
        for name in ("fc2", "fc3", "fc4"):
            self.register_buffer(f"{name}_tie_signs", torch.ones_like(getattr(self, name)))
        self.bn1 = MemberBatchNorm(members, width, device=device, dtype=dtype)
        self.bn2 = MemberBatchNorm(members, width, device=device, dtype=dtype)
        self.bn3 = MemberBatchNorm(members, width, device=device, dtype=dtype)
        self.bn4 = MemberBatchNorm(members, num_classes, device=device, dtype=dtype)
        self.set_binary_options(ste_clip, scaling, sign_weights=sign_weights, device=device)
        self._fc1_grad: Tensor | None = None

    def binary_weights(self) -> list[nn.Parameter]:
        """The binary (or latent) weights, for the BNN optimizer: ``fc2``, ``fc3``, ``fc4``."""
        return [self.fc2, self.fc3, self.fc4]

    @classmethod
    def like(cls, single: nn.Module, setup: MemberSetup) -> BatchedAudioFC:
        """K members of the size of the single network ``single`` (an :class:`AudioFC`), not yet loaded.

        The members take samples flattened: ``setup.sample_shape`` must hold ``in_features`` values.

        Raises:
            InvalidInputError: ``single`` is not an ``AudioFC``, or the samples do not fit it.
        """
        if not isinstance(single, AudioFC):
            raise InvalidInputError(f"expected an AudioFC, got {type(single).__name__}")
        width, in_features = single.fc1.weight.shape
        if math.prod(setup.sample_shape) != in_features:
            raise InvalidInputError(
                f"samples of shape {setup.sample_shape} do not fit an AudioFC of {in_features} inputs"
            )
        return cls(
            setup.members,
            in_features,
            single.fc4.weight.shape[0],
            width,
            ste_clip=setup.ste_clip,
            scaling=setup.scaling,
            sign_weights=setup.sign_weights,
            device=setup.device,
            dtype=setup.dtype,
        )

    @torch.no_grad()
    def load_member(self, k: int, model: nn.Module) -> None:
        """Copy the weights, tie signs and batch-norm state of ``model`` (an AudioFC) into member slot ``k``.

        Raises:
            InvalidInputError: ``k`` out of range, or ``model`` not an AudioFC of this size.
        """
        self.check_member(k)
        if not isinstance(model, AudioFC):
            raise InvalidInputError(f"expected an AudioFC, got {type(model).__name__}")
        if model.fc1.weight.shape != self.fc1.shape[1:] or model.fc4.weight.shape != self.fc4.shape[1:]:
            raise InvalidInputError(
                f"AudioFC of fc1 {tuple(model.fc1.weight.shape)}, fc4 {tuple(model.fc4.weight.shape)} "
                "does not fit "
                f"members of fc1 {tuple(self.fc1.shape[1:])}, fc4 {tuple(self.fc4.shape[1:])}"
            )
        self.fc1[k].copy_(model.fc1.weight)
        for name in ("fc2", "fc3", "fc4"):
            layer = getattr(model, name)
            getattr(self, name)[k].copy_(layer.weight)
            getattr(self, f"{name}_tie_signs")[k].copy_(layer.tie_signs)
        for name in ("bn1", "bn2", "bn3", "bn4"):
            getattr(self, name).load_member(k, getattr(model, name))

    def _fc1_grad_buffer(self) -> Tensor:
        grad, w = self._fc1_grad, self.fc1
        if grad is None or grad.shape != w.shape or grad.device != w.device or grad.dtype != w.dtype:
            grad = self._fc1_grad = torch.empty_like(w)
        return grad

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``[K, num_classes, batch]`` of a shared minibatch ``[batch, in]`` or of ``[K, batch, in]``.

        Raises:
            InvalidInputError: ``x`` has neither shape.
        """
        self.is_shared_input(x)  # raises on a bad shape; _FirstLayer tells the two apart by x's dimensions
        grad = self._fc1_grad_buffer() if torch.is_grad_enabled() and self.fc1.requires_grad else None
        h = self.bn1(_FirstLayer.apply(self.fc1, x, grad))  # type: ignore[no-untyped-call]
        h = self.bn2(torch.bmm(self.binary(self.fc2, self.fc2_tie_signs), sign_ste(h)))
        h = self.bn3(torch.bmm(self.binary(self.fc3, self.fc3_tie_signs), sign_ste(h)))
        return self.bn4(torch.bmm(self.binary(self.fc4, self.fc4_tie_signs), sign_ste(h)))  # type: ignore[no-any-return]
