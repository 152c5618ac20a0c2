"""Statistics across runs: heterogeneity of per-run estimates, and validation against test of chosen networks.

:func:`heterogeneity` asks whether several runs (e.g. the paired difference on each data set, or on repeated
experiments) estimate one common effect, before their estimates are pooled. :func:`validation_test` asks how
much the validation accuracy that chose each study's best configuration overstates its test accuracy.

Plain numpy and ``math``: the chi-square tail is computed here (:func:`chi2_sf`) rather than taken from scipy,
which is not a declared dependency of the project.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bnn_errors import InvalidInputError

# The record base, the checks and the bootstrap are shared with the paired statistics of the same package.
from tuner.analysis.paired import _bootstrap_mean, _check_bootstrap, _check_finite, _Record

__all__ = ["Heterogeneity", "ValidationTest", "chi2_sf", "heterogeneity", "validation_test"]

_EPSILON = 1e-15
_TINY = 1e-300
_MAX_ITERATIONS = 100_000


@dataclass(frozen=True)
class Heterogeneity(_Record):
    """Cochran's Q over k per-run estimates, its chi-square p-value (k - 1 degrees of freedom) and I^2.

    ``pooled_mean`` and ``pooled_se`` are the fixed-effect (inverse-variance weighted) mean and its standard
    error; they describe one common effect, so read them only where Q shows no heterogeneity. ``i_squared`` is
    ``max(0, (Q - df) / Q)`` (0 where Q is 0): the share of the spread that is beyond sampling error.
    """

    n: int
    q: float
    df: int
    p: float
    i_squared: float
    pooled_mean: float
    pooled_se: float


@dataclass(frozen=True)
class ValidationTest(_Record):
    """Validation against test accuracy of each study's chosen configuration, over ``n`` studies.

    ``pearson_r`` is NaN (None in ``to_dict``) where either accuracy is constant. ``optimism_*`` is the mean of
    validation minus test accuracy, with a percentile-bootstrap interval over studies: positive means the
    validation accuracy that chose the configuration overstates how it does on unseen data.
    """

    n: int
    pearson_r: float
    optimism_mean: float
    optimism_ci_low: float
    optimism_ci_high: float


def chi2_sf(x: float, df: float) -> float:
    """The chi-square survival function P(X >= x) for ``df`` degrees of freedom.

    It is the regularized upper incomplete gamma function Q(df / 2, x / 2), computed by its power series below
    x / 2 < df / 2 + 1 and by its continued fraction (modified Lentz) above, as in Numerical Recipes (6.2);
    relative accuracy is about 1e-12 for the degrees of freedom of a meta-analysis.

    Raises:
        InvalidInputError: x is negative or df is not positive.
    """
    _check_finite("x", x)
    _check_finite("df", df)
    if x < 0 or df <= 0:
        raise InvalidInputError(f"chi2_sf needs x >= 0 and df > 0, got x={x}, df={df}", field="x" if x < 0 else "df")
    a, z = df / 2.0, x / 2.0
    if z == 0:
        return 1.0
    log_prefix = a * math.log(z) - z - math.lgamma(a)
    if z < a + 1.0:
        # Series of the lower function P; its complement is accurate here because P is not close to 1.
        term = total = 1.0 / a
        denominator = a
        for _ in range(_MAX_ITERATIONS):
            denominator += 1.0
            term *= z / denominator
            total += term
            if abs(term) < abs(total) * _EPSILON:
                break
        return max(0.0, 1.0 - total * math.exp(log_prefix))
    b = z + 1.0 - a
    c = 1.0 / _TINY
    d = 1.0 / b
    fraction = d
    for i in range(1, _MAX_ITERATIONS):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = _TINY if abs(d) < _TINY else d
        c = b + an / c
        c = _TINY if abs(c) < _TINY else c
        d = 1.0 / d
        fraction *= d * c
        if abs(d * c - 1.0) < _EPSILON:
            break
    return min(1.0, math.exp(log_prefix) * fraction)


def heterogeneity(estimates: Sequence[tuple[float, float]]) -> Heterogeneity:
    """Cochran's Q, its p-value and I^2 for per-run ``(mean, standard error)`` estimates; fixed-effect pooling.

    Q is the inverse-variance weighted sum of squared deviations from the weighted mean; with k runs estimating
    one effect and known standard errors it is chi-square with k - 1 degrees of freedom. With few runs the test
    has little power: a large p-value is no proof of homogeneity, so report I^2 beside it.

    Raises:
        InvalidInputError: fewer than two estimates, a mean that is not finite, or a standard error that is not
            a finite positive number.
    """
    if len(estimates) < 2:
        raise InvalidInputError(f"estimates must hold at least two runs, got {len(estimates)}", field="estimates")
    for mean, se in estimates:
        _check_finite("estimates", mean)
        _check_finite("estimates", se)
        if se <= 0:
            raise InvalidInputError(f"estimates must have standard errors > 0, got {se}", field="estimates")
    means = np.array([mean for mean, _ in estimates], dtype=np.float64)
    weights = 1.0 / np.array([se for _, se in estimates], dtype=np.float64) ** 2
    pooled = float((weights * means).sum() / weights.sum())
    q = float((weights * (means - pooled) ** 2).sum())
    df = len(estimates) - 1
    return Heterogeneity(
        n=len(estimates),
        q=q,
        df=df,
        p=chi2_sf(q, df),
        i_squared=max(0.0, (q - df) / q) if q > 0 else 0.0,
        pooled_mean=pooled,
        pooled_se=float(1.0 / math.sqrt(weights.sum())),
    )


def validation_test(
    chosen: Sequence[tuple[float, float]], *, confidence: float = 0.95, n_boot: int = 10000, seed: int = 0
) -> ValidationTest:
    """Pearson correlation and mean selection optimism of per-study ``(validation, test)`` accuracies.

    Each entry is one study's chosen configuration: the validation accuracy it was chosen by and its accuracy on
    the held-out test set. Studies are resampled with replacement for the optimism's interval.

    Raises:
        InvalidInputError: fewer than two studies, an accuracy that is not finite, or a bootstrap argument out of
            range.
    """
    _check_bootstrap(confidence, n_boot, seed)
    if len(chosen) < 2:
        raise InvalidInputError(f"chosen must hold at least two studies, got {len(chosen)}", field="chosen")
    for validation, test in chosen:
        _check_finite("chosen", validation)
        _check_finite("chosen", test)
    pairs = np.array(chosen, dtype=np.float64)
    validation_dev = pairs[:, 0] - pairs[:, 0].mean()
    test_dev = pairs[:, 1] - pairs[:, 1].mean()
    scale = math.sqrt(float((validation_dev**2).sum() * (test_dev**2).sum()))
    # Round-off can carry |r| a hair past 1 when the accuracies are collinear.
    pearson_r = max(-1.0, min(1.0, float((validation_dev * test_dev).sum()) / scale)) if scale > 0 else math.nan
    mean, low, high, _ = _bootstrap_mean(pairs[:, 0] - pairs[:, 1], confidence, n_boot, seed)
    return ValidationTest(
        n=len(chosen),
        pearson_r=pearson_r,
        optimism_mean=mean,
        optimism_ci_low=low,
        optimism_ci_high=high,
    )
