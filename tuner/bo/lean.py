"""Lean Bayesian optimization: one suggestion from a study's history with BoTorch directly, in a fraction of a second.

The same kind of method as the Ax path (:mod:`tuner.bo.ax_adapter`): a scrambled, seeded Sobol start of
``n_initial`` trials, then a Gaussian process (BoTorch's ``SingleTaskGP``: Matern-5/2 kernel with its
dimension-scaled priors, outcomes standardized, the observation noise taken from the trials' standard errors where
every observation has one, else inferred) and the noisy log expected improvement (``qLogNoisyExpectedImprovement``)
maximized over the unit cube.
Where the time goes is what differs. Ax rebuilds its experiment from the whole history on every suggestion (our
suggestion pool and restarts ask it that way), fits the GP with up to five attempts, and for our spaces optimizes the
acquisition once per combination of choice values (``optimize_acqf_mixed``: 4 in the latent space), each from 20
restarts picked among 1024 raw samples. Here the GP fit is capped (``fit_maxiter``, one attempt) and the acquisition
is evaluated on ``raw_samples`` quasi-random points spread over the combinations; the best point of every combination
and the best ones overall (``restarts`` in all, at least one per combination) are climbed together by one batched
L-BFGS-B, each start's choice values held fixed. ``benchmarks/bo_quality.py`` measures whether the trials found
are as good (docs/results/bo-quality.md).

Everything is a function of (space, history, seed): no state is carried between suggestions, so a suggestion pool's
worker and the scheduler suggest the same point for the same history, and a restarted study continues as an
uninterrupted one would.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from botorch.acquisition.logei import qLogNoisyExpectedImprovement
from botorch.fit import fit_gpytorch_mll
from botorch.generation.gen import gen_candidates_scipy
from botorch.models import SingleTaskGP
from botorch.models.transforms.outcome import Standardize
from botorch.sampling.normal import SobolQMCNormalSampler
from gpytorch.mlls import ExactMarginalLogLikelihood

from bnn_errors import GiveUpError, InvalidInputError
from search_spaces import ChoiceParameter, RangeParameter, SearchSpace
from tuner.bo.history import HistoryTrial
from tuner.study.states import TrialState

__all__ = ["DEFAULT_SETTINGS", "LeanSettings", "UnitCube", "suggest_lean"]

# Combinations of choice values above this many are too many to optimize one by one; a space that has them is
# refused rather than searched badly (ours have 1 or 4).
MAX_CHOICE_COMBINATIONS = 64

# The smallest observation variance given to the GP, in the objective's units squared: members that agree to the
# last recording would otherwise give a zero standard error, which makes the GP's kernel matrix singular.
_MIN_VARIANCE = 1e-6


@dataclass(frozen=True)
class LeanSettings:
    """How hard a lean suggestion works; the defaults are what ``benchmarks/bo_quality.py`` measured.

    Attributes:
        restarts: starting points of the acquisition's gradient ascent (at least one per combination of choice
            values is added).
        raw_samples: quasi-random points the starting points are picked from.
        fit_maxiter: L-BFGS iterations of the GP's hyperparameter fit.
        mc_samples: quasi-Monte-Carlo samples of the noisy expected improvement.
    """

    restarts: int = 8
    raw_samples: int = 512
    fit_maxiter: int = 50
    mc_samples: int = 128

    def __post_init__(self) -> None:
        for name in ("restarts", "raw_samples", "fit_maxiter", "mc_samples"):
            if getattr(self, name) < 1:
                raise InvalidInputError(f"{name} must be at least 1, got {getattr(self, name)}", field=name)


DEFAULT_SETTINGS = LeanSettings()


class UnitCube:
    """A search space's points as vectors in [0, 1]^d: ranges scaled linearly or by their logarithm, choices by
    their position (k / (n - 1) for the k-th of n values; a single choice is 0)."""

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
        self.dimension = len(space.parameters)
        self.choice_levels: dict[int, list[float]] = {
            index: _levels(len(parameter.choices))
            for index, parameter in enumerate(space.parameters)
            if isinstance(parameter, ChoiceParameter)
        }

    def encode(self, point: dict[str, object] | object) -> list[float]:
        assert isinstance(point, dict)
        return [_encode(parameter, point[parameter.name]) for parameter in self.space.parameters]

    def decode(self, x: Sequence[float]) -> dict[str, object]:
        return {
            parameter.name: _decode(parameter, float(u)) for parameter, u in zip(self.space.parameters, x, strict=True)
        }

    def choice_combinations(self) -> list[dict[int, float]]:
        """Every combination of choice values, as BoTorch's fixed features (one empty one without choices)."""
        indices = sorted(self.choice_levels)
        return [
            dict(zip(indices, values, strict=True))
            for values in itertools.product(*(self.choice_levels[i] for i in indices))
        ]


def suggest_lean(
    space: SearchSpace,
    history: Sequence[HistoryTrial],
    *,
    seed: int,
    n_initial: int,
    settings: LeanSettings = DEFAULT_SETTINGS,
) -> dict[str, object] | None:
    """The parameters of the study's next trial (number ``len(history)``), or None while the start waits for results.

    Trials that are running are pending points: the acquisition values what they may find as already found. Failed
    and abandoned trials neither count towards the ``n_initial`` Sobol trials nor inform the model, but use up their
    Sobol position, so no point is suggested twice. The Sobol start hands over to the GP once ``n_initial`` trials
    that did not fail exist and at least half of them (rounded up) have results; before that, with the Sobol trials
    all out, the answer is None.

    Raises:
        InvalidInputError: ``n_initial`` < 1, a seed outside [0, 2**32), or a space with more than
            ``MAX_CHOICE_COMBINATIONS`` combinations of choice values.
        GiveUpError: BoTorch failed (a GP that cannot be fitted, an acquisition that cannot be evaluated).
    """
    if n_initial < 1:
        raise InvalidInputError(f"n_initial must be at least 1, got {n_initial}", field="n_initial")
    if not 0 <= seed < 2**32:
        raise InvalidInputError(f"seed must be in [0, 2**32), got {seed}", field="seed")
    cube = UnitCube(space)
    combinations = cube.choice_combinations()
    if len(combinations) > MAX_CHOICE_COMBINATIONS:
        raise InvalidInputError(
            f"search space {space.name!r} has {len(combinations)} combinations of choice values; "
            f"the lean suggestion path handles at most {MAX_CHOICE_COMBINATIONS}"
        )
    position = len(history)
    counted = [t for t in history if t.state not in (TrialState.FAILED, TrialState.ABANDONED)]
    observed = [t for t in history if TrialState(t.state).has_objective]
    if len(counted) < n_initial:
        return cube.decode(_sobol(cube, seed, position))
    if len(observed) < max(1, math.ceil(n_initial / 2)):
        return None
    pending = [cube.encode(dict(t.parameters)) for t in history if t.state == TrialState.RUNNING]
    try:
        with torch.random.fork_rng():
            torch.manual_seed(_suggestion_seed(seed, position))
            x = _next_point(cube, observed, pending, combinations, settings, seed=_suggestion_seed(seed, position))
    except Exception as error:
        raise GiveUpError(f"BoTorch could not suggest trial {position}: {type(error).__name__}: {error}") from error
    return cube.decode(x)


def _next_point(
    cube: UnitCube,
    observed: Sequence[HistoryTrial],
    pending: Sequence[list[float]],
    combinations: list[dict[int, float]],
    settings: LeanSettings,
    *,
    seed: int,
) -> list[float]:
    dtype = torch.float64  # BoTorch's GP fits are unreliable in single precision
    train_x = torch.tensor([cube.encode(dict(t.parameters)) for t in observed], dtype=dtype)
    train_y = torch.tensor([[float(t.objective)] for t in observed], dtype=dtype)  # type: ignore[arg-type]
    sems = [t.sem for t in observed]
    train_yvar = (
        torch.tensor([[max(float(s) ** 2, _MIN_VARIANCE)] for s in sems], dtype=dtype)  # type: ignore[arg-type]
        if all(s is not None for s in sems)
        else None
    )
    model = SingleTaskGP(train_x, train_y, train_Yvar=train_yvar, outcome_transform=Standardize(m=1))
    mll = ExactMarginalLogLikelihood(model.likelihood, model)
    with warnings.catch_warnings():
        # A capped fit stops before scipy calls it converged and says so; that is the point of the cap.
        warnings.simplefilter("ignore")
        fit_gpytorch_mll(
            mll,
            optimizer_kwargs={"options": {"maxiter": settings.fit_maxiter}},
            max_attempts=1,
            warning_handler=lambda _: True,
        )
    acquisition = qLogNoisyExpectedImprovement(
        model,
        X_baseline=train_x,
        sampler=SobolQMCNormalSampler(torch.Size([settings.mc_samples]), seed=seed),
        X_pending=torch.tensor(pending, dtype=dtype) if pending else None,
        prune_baseline=True,
    )
    return _maximize(acquisition, cube, combinations, settings, seed=seed)


def _maximize(
    acquisition: qLogNoisyExpectedImprovement,
    cube: UnitCube,
    combinations: list[dict[int, float]],
    settings: LeanSettings,
    *,
    seed: int,
) -> list[float]:
    """The acquisition's maximizer: ``raw_samples`` quasi-random points spread evenly over the combinations of choice
    values, the best of each combination and the best overall (``restarts`` starts, at least one per combination)
    climbed together by one batched L-BFGS-B with each start's choice values held fixed (its bounds pinned)."""
    dtype = torch.float64
    engine = torch.quasirandom.SobolEngine(cube.dimension, scramble=True, seed=seed)  # type: ignore[no-untyped-call]
    raw = engine.draw(max(settings.raw_samples, len(combinations)), dtype=dtype)
    combination_of = [k % len(combinations) for k in range(len(raw))]
    for k, combination in enumerate(combination_of):
        for index, value in combinations[combination].items():
            raw[k, index] = value
    with torch.no_grad():
        values = acquisition(raw.unsqueeze(1))
    order = sorted(range(len(raw)), key=lambda k: -float(values[k]))
    starts = [next(k for k in order if combination_of[k] == c) for c in range(len(combinations))]
    starts += [k for k in order if k not in starts][: max(0, settings.restarts - len(starts))]
    initial = raw[starts].unsqueeze(1)
    lower = torch.zeros_like(initial)
    upper = torch.ones_like(initial)
    for row, k in enumerate(starts):
        for index, value in combinations[combination_of[k]].items():
            lower[row, 0, index] = upper[row, 0, index] = value
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        candidates, climbed = gen_candidates_scipy(
            initial,
            acquisition,
            lower_bounds=lower,
            upper_bounds=upper,
            options={"maxiter": 200},
            use_parallel_mode=False,
        )
    best = int(torch.argmax(climbed.view(-1)))
    return [float(u) for u in candidates[best, 0]]


def _sobol(cube: UnitCube, seed: int, position: int) -> list[float]:
    engine = torch.quasirandom.SobolEngine(cube.dimension, scramble=True, seed=seed)  # type: ignore[no-untyped-call]
    if position:
        engine.fast_forward(position)  # type: ignore[no-untyped-call]
    u = [float(v) for v in engine.draw(1, dtype=torch.float64)[0]]
    # A choice of n values takes the k-th where u falls in [k/n, (k+1)/n): equal shares, as a random point would.
    for index, levels in cube.choice_levels.items():
        u[index] = levels[min(int(u[index] * len(levels)), len(levels) - 1)]
    return u


def _suggestion_seed(seed: int, position: int) -> int:
    return (seed * 1_000_003 + position) % (2**31)


def _levels(n: int) -> list[float]:
    return [0.0] if n == 1 else [k / (n - 1) for k in range(n)]


def _encode(parameter: RangeParameter | ChoiceParameter, value: object) -> float:
    if isinstance(parameter, ChoiceParameter):
        index = next(k for k, choice in enumerate(parameter.choices) if type(choice) is type(value) and choice == value)
        return _levels(len(parameter.choices))[index]
    assert isinstance(value, int | float)
    if parameter.log_scale:
        low, high = math.log(parameter.lower), math.log(parameter.upper)
        return (math.log(value) - low) / (high - low)
    return (float(value) - parameter.lower) / (parameter.upper - parameter.lower)


def _decode(parameter: RangeParameter | ChoiceParameter, u: float) -> object:
    u = min(max(u, 0.0), 1.0)
    if isinstance(parameter, ChoiceParameter):
        levels = _levels(len(parameter.choices))
        return parameter.choices[min(range(len(levels)), key=lambda k: abs(levels[k] - u))]
    if parameter.log_scale:
        low, high = math.log(parameter.lower), math.log(parameter.upper)
        value = math.exp(low + u * (high - low))
    else:
        value = parameter.lower + u * (parameter.upper - parameter.lower)
    # exp(log(x)) can land a rounding error outside the closed interval.
    return min(max(value, float(parameter.lower)), float(parameter.upper))
