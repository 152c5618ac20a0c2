"""The latent-weight to filter mapping (paper Eq 12-13): alpha = lr * weight_decay, gamma = 1 - momentum."""

from __future__ import annotations

import math

__all__ = ["latent_to_filter"]


def latent_to_filter(lr: float, weight_decay: float, momentum: float) -> tuple[float, float]:
    """The filter optimizer's (alpha, gamma) equivalent to latent-weight SGD with these settings.

    The equivalence holds for magnitude-independent latent settings only: latent weights starting at zero
    (w0 = 0), no gradient clipping and no scaling, where the latent magnitude never affects the signs.

    Raises ``ValueError`` when an argument is not finite, ``lr`` or ``weight_decay`` is not positive,
    ``momentum`` is outside [0, 1), or alpha = lr * weight_decay would leave (0, 1].
    """
    for name, value in (("lr", lr), ("weight_decay", weight_decay), ("momentum", momentum)):
        if not math.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value}")
    if lr <= 0:
        raise ValueError(f"lr must be positive, got {lr}")
    if weight_decay <= 0:
        # Without weight decay alpha is 0 and the filter never flips a sign.
        raise ValueError(f"weight_decay must be positive, got {weight_decay}")
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")
    alpha = lr * weight_decay
    if not 0 < alpha <= 1:
        raise ValueError(
            f"alpha = lr * weight_decay = {lr} * {weight_decay} = {alpha} is outside (0, 1]: "
            "the filter's moving average would not be a low-pass filter"
        )
    return alpha, 1.0 - momentum
