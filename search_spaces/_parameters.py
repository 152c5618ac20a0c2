"""Parameters of a search space: a numeric range or a set of choices, each able to check a value."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["ChoiceParameter", "Parameter", "RangeParameter"]


@dataclass(frozen=True)
class RangeParameter:
    """A real-valued parameter in the closed interval [lower, upper].

    ``log_scale`` tells the optimizer to search the logarithm of the value (bounds then must be positive).
    Raises ``ValueError`` at construction for an empty name, non-finite or inverted bounds, or a log scale
    over non-positive bounds.
    """

    name: str
    lower: float
    upper: float
    log_scale: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a parameter needs a name")
        if not (math.isfinite(self.lower) and math.isfinite(self.upper)):
            raise ValueError(f"{self.name}: bounds must be finite, got [{self.lower}, {self.upper}]")
        if not self.lower < self.upper:
            raise ValueError(f"{self.name}: lower bound {self.lower} must be below upper bound {self.upper}")
        if self.log_scale and self.lower <= 0:
            raise ValueError(f"{self.name}: a log-scale range needs a positive lower bound, got {self.lower}")

    def check(self, value: object) -> None:
        """Raise ``ValueError`` naming this parameter unless ``value`` is a number within the bounds."""
        # bool is an int subclass, but True is no learning rate.
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(
                f"{self.name}: expected a number in [{self.lower:g}, {self.upper:g}], "
                f"got {value!r} of type {type(value).__name__}"
            )
        if math.isnan(value):
            raise ValueError(f"{self.name}: expected a number in [{self.lower:g}, {self.upper:g}], got NaN")
        if not self.lower <= value <= self.upper:
            raise ValueError(f"{self.name}: {value!r} is outside the range [{self.lower:g}, {self.upper:g}]")


@dataclass(frozen=True)
class ChoiceParameter:
    """A parameter that takes one of a fixed, ordered tuple of values (strings, numbers or booleans).

    Raises ``ValueError`` at construction for an empty name, no choices, or repeated choices.
    """

    name: str
    choices: tuple[str | int | float | bool, ...]
    description: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a parameter needs a name")
        if not self.choices:
            raise ValueError(f"{self.name}: a choice parameter needs at least one choice")
        if len(set(self.choices)) != len(self.choices):
            raise ValueError(f"{self.name}: choices must be distinct, got {self.choices!r}")

    def check(self, value: object) -> None:
        """Raise ``ValueError`` naming this parameter unless ``value`` is one of the choices (by type too)."""
        # Compare types as well, since 1 == True == 1.0 would let a wrong type slip through.
        if not any(type(value) is type(choice) and value == choice for choice in self.choices):
            raise ValueError(f"{self.name}: {value!r} is not one of the choices {self.choices!r}")


Parameter = RangeParameter | ChoiceParameter
