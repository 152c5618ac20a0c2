"""K AudioFC networks as one module: every weight carries a leading member dimension K.

Activations are kept feature-major, ``[K, channels, batch]``: a layer is then ``torch.bmm(weight, h)`` with
the weight ``[K, out, in]`` as stored, and the per-member batch norm is one ``F.batch_norm`` over
``K * channels`` channels of a ``[1, K * channels, batch]`` view (the statistics of channel (k, c) are those
of member k's own minibatch), the function the single network's ``BatchNorm1d`` calls. A shared minibatch
``[batch, in]`` turns the first layer into one wide matmul ``[K * width, in] x [in, batch]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from trainers.errors import InvalidInputError
from trainers.layers import sign_ste
from trainers.models import AudioFC

__all__ = ["BatchedAudioFC", "MemberBatchNorm"]


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
            grad = grad * ((w.abs() <= 1) | ~clip).to(grad.dtype)
        return grad, None, None


class MemberBatchNorm(nn.Module):
    """``BatchNorm1d`` for each of K members, on feature-major activations ``[K, channels, batch]``.

    Same defaults as ``nn.BatchNorm1d`` (momentum 0.1, eps 1e-5, unbiased running variance).
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
        out = F.batch_norm(
            h.reshape(1, members * channels, batch),
            self.running_mean.view(-1),
            self.running_var.view(-1),
            self.weight.view(-1),
            self.bias.view(-1),
            training=self.training,
            momentum=self.momentum,
            eps=self.eps,
        )
        return out.view(members, channels, batch)

    @torch.no_grad()
    def load_member(self, k: int, bn: nn.BatchNorm1d) -> None:
        """Copy ``bn``'s affine parameters and running statistics into member slot ``k``."""
        self.weight[k].copy_(bn.weight)
        self.bias[k].copy_(bn.bias)
        self.running_mean[k].copy_(bn.running_mean)  # type: ignore[arg-type]
        self.running_var[k].copy_(bn.running_var)  # type: ignore[arg-type]


class BatchedAudioFC(nn.Module):
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
        for name, value in (("members", members), ("in_features", in_features), ("num_classes", num_classes)):
            if value < 1:
                raise InvalidInputError(f"{name} must be >= 1, got {value}")
        if width < 1:
            raise InvalidInputError(f"width must be >= 1, got {width}")
        if len(ste_clip) != members or len(scaling) != members:
            raise InvalidInputError(
                f"ste_clip and scaling need one flag per member ({members}), got {len(ste_clip)} and {len(scaling)}"
            )
        super().__init__()
        device = torch.device(device)
        self.members = members
        self.in_features = in_features
        self.num_classes = num_classes
        self.width = width
        self.sign_weights = sign_weights

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
        # None where no member uses the option, so the common case pays nothing for it.
        flags = torch.tensor(list(ste_clip), dtype=torch.bool, device=device).view(members, 1, 1)
        self._clip: Tensor | None = flags if any(ste_clip) else None
        scale_flags = torch.tensor(list(scaling), dtype=torch.bool, device=device).view(members, 1, 1)
        self._scaling: Tensor | None = scale_flags if any(scaling) else None
        self._fc1_grad: Tensor | None = None

    def binary_weights(self) -> list[nn.Parameter]:
        """The binary (or latent) weights, for the BNN optimizer: ``fc2``, ``fc3``, ``fc4``."""
        return [self.fc2, self.fc3, self.fc4]

    def real_parameters(self) -> list[nn.Parameter]:
        """Every parameter that is not a binary weight, for Adam: ``fc1`` and the batch norms."""
        binary = {id(p) for p in self.binary_weights()}
        return [p for p in self.parameters() if id(p) not in binary]

    @torch.no_grad()
    def load_member(self, k: int, model: AudioFC) -> None:
        """Copy the weights, tie signs and batch-norm state of ``model`` into member slot ``k``.

        Raises:
            InvalidInputError: ``k`` out of range, or ``model`` of another size.
        """
        if not 0 <= k < self.members:
            raise InvalidInputError(f"member {k} out of range [0, {self.members})")
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

    def _binary(self, w: Tensor, tie_signs: Tensor) -> Tensor:
        if self.sign_weights:
            # weights of -1 and +1 are their own signs, scaling by mean(|w|) = 1 is the identity, and the
            # clipped STE passes every gradient
            return w
        binary: Tensor = _MemberWeightSign.apply(w, tie_signs, self._clip)  # type: ignore[no-untyped-call]
        if self._scaling is not None:
            scale = torch.where(self._scaling, w.abs().mean(dim=2, keepdim=True), 1.0)
            binary = binary * scale
        return binary

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``[K, num_classes, batch]`` of a shared minibatch ``[batch, in]`` or of ``[K, batch, in]``.

        Raises:
            InvalidInputError: ``x`` has neither shape.
        """
        k = self.members
        shared = x.dim() == 2 and x.shape[1] == self.in_features
        if not (shared or (x.dim() == 3 and x.shape[0] == k and x.shape[2] == self.in_features)):
            raise InvalidInputError(
                f"expected inputs [batch, {self.in_features}] or [{k}, batch, {self.in_features}], got {tuple(x.shape)}"
            )
        grad = self._fc1_grad_buffer() if torch.is_grad_enabled() and self.fc1.requires_grad else None
        h = self.bn1(_FirstLayer.apply(self.fc1, x, grad))  # type: ignore[no-untyped-call]
        h = self.bn2(torch.bmm(self._binary(self.fc2, self.fc2_tie_signs), sign_ste(h)))
        h = self.bn3(torch.bmm(self._binary(self.fc3, self.fc3_tie_signs), sign_ste(h)))
        return self.bn4(torch.bmm(self._binary(self.fc4, self.fc4_tie_signs), sign_ste(h)))  # type: ignore[no-any-return]
