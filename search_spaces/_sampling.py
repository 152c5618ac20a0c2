"""Uniformly random points of a search space, for made-up histories in benchmarks and tests."""

from __future__ import annotations

import math
import random

from search_spaces._parameters import ChoiceParameter
from search_spaces._space import SearchSpace

__all__ = ["sample_point"]


def sample_point(space: SearchSpace, rng: random.Random) -> dict[str, object]:
    """A uniformly random point of ``space``: log-uniform on log-scale ranges, uniform on the others, a uniform
    choice among a choice parameter's values. The same ``rng`` state gives the same point."""
    point: dict[str, object] = {}
    for p in space.parameters:
        if isinstance(p, ChoiceParameter):
            point[p.name] = rng.choice(p.choices)
            continue
        if p.log_scale:
            value = math.exp(rng.uniform(math.log(p.lower), math.log(p.upper)))
        else:
            value = rng.uniform(p.lower, p.upper)
        # exp(log(x)) can round one ulp past a bound, which the parameter's check would refuse.
        point[p.name] = min(max(value, p.lower), p.upper)
    return point
