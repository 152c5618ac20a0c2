"""A search space: one BNN optimizer's tuned parameters, its fixed settings, the map to trial arguments."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from search_spaces._parameters import Parameter

__all__ = ["SearchSpace", "TrialArguments"]

TrialArguments = dict[str, object]
"""What ``to_trial`` returns: ``optimizer``, ``hyperparameters``, ``binary``, ``decay`` (see SearchSpace)."""


@dataclass(frozen=True)
class SearchSpace:
    """The tuned parameters of one optimizer, the settings held fixed, and how a point becomes a trial.

    ``to_trial(point)`` turns a tuned point (a mapping from parameter name to value) into the trainer's
    arguments::

        {"optimizer": "latent" | "filter" | "bop",
         "hyperparameters": {...},            # filter: alpha, gamma; latent: lr, momentum, weight_decay;
                                              # bop: threshold, gamma
         "binary": {"init_scale": float, "ste_clip": bool, "scaling": bool},
         "decay": "cosine" | "linear" | "none"}

    ``fixed`` records the settings the space does not tune (e.g. the learning-rate decay), so that they can be
    shown next to the tuned ones; ``to_trial`` must honour them.
    Raises ``ValueError`` at construction for an empty name or optimizer, repeated parameter names, or a fixed
    setting that shares a name with a tuned parameter.
    """

    name: str
    optimizer: str
    parameters: tuple[Parameter, ...]
    fixed: Mapping[str, object]
    description: str
    to_trial: Callable[[Mapping[str, object]], TrialArguments]

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a search space needs a name")
        if not self.optimizer:
            raise ValueError(f"search space {self.name!r} needs an optimizer")
        if not self.parameters:
            raise ValueError(f"search space {self.name!r} needs at least one tuned parameter")
        names = [parameter.name for parameter in self.parameters]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"search space {self.name!r} repeats the parameters {repeated}")
        overlap = sorted(set(names) & set(self.fixed))
        if overlap:
            raise ValueError(f"search space {self.name!r} both tunes and fixes {overlap}")
        # A read-only copy, so a registered space cannot be changed behind the registry's back.
        object.__setattr__(self, "fixed", MappingProxyType(dict(self.fixed)))

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """The names of the tuned parameters, in order."""
        return tuple(parameter.name for parameter in self.parameters)

    def parameter(self, name: str) -> Parameter:
        """The tuned parameter called ``name``; raises ``KeyError`` if there is none."""
        for parameter in self.parameters:
            if parameter.name == name:
                return parameter
        raise KeyError(f"search space {self.name!r} has no parameter {name!r}; it has {self.parameter_names}")

    def validate(self, point: Mapping[str, object]) -> None:
        """Check that ``point`` gives every tuned parameter an allowed value and nothing else.

        Raises ``ValueError`` naming the parameter, the value and the allowed range or choices, for a missing
        or unknown parameter, a value out of range, NaN, or a value of the wrong type.
        """
        unknown = sorted(set(point) - set(self.parameter_names))
        if unknown:
            raise ValueError(f"search space {self.name!r} has no parameters {unknown}; it tunes {self.parameter_names}")
        for parameter in self.parameters:
            if parameter.name not in point:
                raise ValueError(f"{parameter.name}: missing from the point for search space {self.name!r}")
            parameter.check(point[parameter.name])

    def build_trial(self, point: Mapping[str, object]) -> TrialArguments:
        """Validate ``point`` (raising ``ValueError`` as ``validate``), then turn it into trial arguments."""
        self.validate(point)
        return self.to_trial(point)
