"""Range checks for hyperparameters: each error names the argument, its value and the allowed range."""

from __future__ import annotations

import math

from bnn_errors import InvalidInputError


def check_open_unit(name: str, value: float) -> float:
    """Return ``value`` if it lies in (0, 1]; the range of the filter's alpha and gamma.

    Raises:
        InvalidInputError: ``value`` is outside (0, 1] or NaN.
    """
    if not 0.0 < value <= 1.0:
        raise InvalidInputError(f"{name} must be in (0, 1], got {value}")
    return float(value)


def check_positive(name: str, value: float) -> float:
    """Return ``value`` if it is finite and > 0.

    Raises:
        InvalidInputError: ``value`` is <= 0, infinite or NaN.
    """
    if not (0.0 < value < math.inf):
        raise InvalidInputError(f"{name} must be in (0, inf), got {value}")
    return float(value)


def check_non_negative(name: str, value: float) -> float:
    """Return ``value`` if it is finite and >= 0.

    Raises:
        InvalidInputError: ``value`` is negative, infinite or NaN.
    """
    if not (0.0 <= value < math.inf):
        raise InvalidInputError(f"{name} must be in [0, inf), got {value}")
    return float(value)


def check_momentum(name: str, value: float) -> float:
    """Return ``value`` if it lies in [0, 1), the range of a momentum coefficient.

    Raises:
        InvalidInputError: ``value`` is outside [0, 1) or NaN.
    """
    if not 0.0 <= value < 1.0:
        raise InvalidInputError(f"{name} must be in [0, 1), got {value}")
    return float(value)
