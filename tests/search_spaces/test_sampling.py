"""Uniformly random points of a search space: in range, valid choices, even over decades, seeded."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest

from search_spaces import FILTER_SPACE, ChoiceParameter, RangeParameter, SearchSpace, list_spaces, sample_point

MIXED = SearchSpace(
    name="mixed",
    optimizer="filter",
    parameters=(
        RangeParameter("alpha", 1e-6, 1.0, log_scale=True),
        RangeParameter("gamma", 0.2, 0.6),
        ChoiceParameter("decay", ("cosine", "linear", "none")),
    ),
    fixed={},
    description="a log-scale range, a linear one and a choice",
    to_trial=FILTER_SPACE.to_trial,
)


def _draws(name: str, n: int, seed: int) -> list[object]:
    """The values of parameter ``name`` in ``n`` points of MIXED drawn from one generator seeded ``seed``."""
    rng = random.Random(seed)
    return [sample_point(MIXED, rng)[name] for _ in range(n)]


def _floats(name: str, n: int, seed: int) -> list[float]:
    values = _draws(name, n, seed)
    assert all(isinstance(v, float) for v in values)
    return [float(v) for v in values if isinstance(v, float)]


@pytest.mark.parametrize("space", [*list_spaces(), MIXED], ids=lambda space: space.name)
def test_points_lie_in_the_space(space: SearchSpace) -> None:
    rng = random.Random(0)
    for _ in range(500):
        point = sample_point(space, rng)
        assert list(point) == [p.name for p in space.parameters]
        space.validate(point)


def test_every_choice_is_drawn_about_equally() -> None:
    counts = Counter(_draws("decay", 3000, seed=1))
    assert set(counts) == {"cosine", "linear", "none"}
    assert all(800 <= n <= 1200 for n in counts.values())


def test_log_scale_covers_the_decades_evenly() -> None:
    decades = Counter(min(math.floor(-math.log10(a)), 5) for a in _floats("alpha", 6000, seed=2))
    # 1e-6 to 1 is six decades: about 1000 points in each (a standard deviation of about 29).
    assert sorted(decades) == [0, 1, 2, 3, 4, 5]
    assert all(850 <= n <= 1150 for n in decades.values()), decades


def test_linear_range_is_uniform_not_log_uniform() -> None:
    below_middle = sum(g < 0.4 for g in _floats("gamma", 4000, seed=3))
    assert 1800 <= below_middle <= 2200


def test_a_seeded_generator_gives_the_same_points() -> None:
    for name in ("alpha", "gamma", "decay"):
        assert _draws(name, 20, seed=11) == _draws(name, 20, seed=11)
    assert _draws("alpha", 20, seed=11) != _draws("alpha", 20, seed=12)
