"""The built-in search spaces: latent-weight SGD and the filter optimizer (paper Table 1), and Bop."""

from __future__ import annotations

from collections.abc import Mapping

from search_spaces._parameters import ChoiceParameter, RangeParameter
from search_spaces._space import SearchSpace, TrialArguments

__all__ = ["BOP_SPACE", "FILTER_SPACE", "LATENT_MATCHED_SPACE", "LATENT_SPACE"]

_OFF_ON = ("off", "on")

# The optimizers that binarize their own state ignore the latent options; these values make the binary layers
# plain sign layers.
_SIGN_ONLY_BINARY: Mapping[str, object] = {"init_scale": 1.0, "ste_clip": False, "scaling": False}

_LATENT_FIXED: Mapping[str, object] = {"decay": "cosine"}
_FILTER_FIXED: Mapping[str, object] = {"decay": "cosine", **_SIGN_ONLY_BINARY}
_BOP_FIXED: Mapping[str, object] = {"decay": "none", **_SIGN_ONLY_BINARY}


def _number(point: Mapping[str, object], name: str) -> float:
    value = point[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name}: expected a number, got {value!r}")
    return float(value)


def _latent_to_trial(point: Mapping[str, object]) -> TrialArguments:
    one_minus_momentum = _number(point, "one_minus_momentum")
    return {
        "optimizer": "latent",
        "hyperparameters": {
            "lr": _number(point, "lr"),
            # Tuning 1 - momentum on a log scale resolves the momenta near 1 that matter most.
            "momentum": 1.0 - one_minus_momentum,
            "weight_decay": _number(point, "weight_decay"),
        },
        "binary": {
            "init_scale": _number(point, "init_scale"),
            "ste_clip": point["clipping"] == "on",
            "scaling": point["scaling"] == "on",
        },
        "decay": _LATENT_FIXED["decay"],
    }


def _filter_to_trial(point: Mapping[str, object]) -> TrialArguments:
    return {
        "optimizer": "filter",
        "hyperparameters": {
            "alpha": _number(point, "alpha"),
            "gamma": _number(point, "gamma"),
        },
        "binary": dict(_SIGN_ONLY_BINARY),
        "decay": _FILTER_FIXED["decay"],
    }


def _bop_to_trial(point: Mapping[str, object]) -> TrialArguments:
    return {
        "optimizer": "bop",
        "hyperparameters": {
            "threshold": _number(point, "threshold"),
            "gamma": _number(point, "gamma"),
        },
        "binary": dict(_SIGN_ONLY_BINARY),
        "decay": _BOP_FIXED["decay"],
    }


def _latent_parameters(
    lr: tuple[float, float], weight_decay: tuple[float, float], one_minus_momentum: tuple[float, float]
) -> tuple[RangeParameter | ChoiceParameter, ...]:
    return (
        RangeParameter("lr", *lr, log_scale=True, description="learning rate of latent-weight SGD"),
        RangeParameter("weight_decay", *weight_decay, log_scale=True, description="latent weight decay"),
        RangeParameter(
            "one_minus_momentum",
            *one_minus_momentum,
            log_scale=True,
            description="1 - momentum of SGD; 1 means no momentum, the lower bound keeps momentum below 1",
        ),
        RangeParameter(
            "init_scale",
            1e-4,
            1.0,
            log_scale=True,
            description="w0: latent weights start uniform in [-init_scale, init_scale]",
        ),
        ChoiceParameter("scaling", _OFF_ON, description="on: binary weights times the channel mean of |w|"),
        ChoiceParameter(
            "clipping",
            _OFF_ON,
            description="on: the straight-through estimator's gradient clipping, zero gradient where |w| > 1",
        ),
    )


# The filter box (alpha, gamma); the matched latent box implies exactly these through alpha = lr * wd, gamma = 1 - mu.
_ALPHA = (1e-6, 1e-1)
_GAMMA = (1e-4, 1.0)

LATENT_SPACE = SearchSpace(
    name="latent",
    optimizer="latent",
    parameters=_latent_parameters(lr=(1e-4, 10.0), weight_decay=(1e-7, 1e-1), one_minus_momentum=(1e-3, 1.0)),
    fixed=_LATENT_FIXED,
    description="Latent-weight SGD with momentum and weight decay: 6 tuned hyperparameters, cosine LR decay.",
    to_trial=_latent_to_trial,
)

LATENT_MATCHED_SPACE = SearchSpace(
    name="latent_matched",
    optimizer="latent",
    # lr x weight_decay spans [1e-3 * 1e-3, 1 * 1e-1] = the filter's alpha box; 1 - momentum spans its gamma box.
    parameters=_latent_parameters(lr=(1e-3, 1.0), weight_decay=(1e-3, 1e-1), one_minus_momentum=_GAMMA),
    fixed=_LATENT_FIXED,
    description="Latent-weight SGD in the box whose implied (alpha, gamma) is the filter box: 6 tuned, so that a "
    "comparison separates the parametrization from where each box sits.",
    to_trial=_latent_to_trial,
)

FILTER_SPACE = SearchSpace(
    name="filter",
    optimizer="filter",
    parameters=(
        RangeParameter("alpha", *_ALPHA, log_scale=True, description="rate of the second moving average (lr * wd)"),
        RangeParameter("gamma", *_GAMMA, log_scale=True, description="rate of the first moving average (1 - momentum)"),
    ),
    fixed=_FILTER_FIXED,
    description="The filter optimizer: two moving averages of the gradient, 2 tuned, cosine alpha decay.",
    to_trial=_filter_to_trial,
)

BOP_SPACE = SearchSpace(
    name="bop",
    optimizer="bop",
    parameters=(
        RangeParameter("threshold", 1e-8, 1e-2, log_scale=True, description="flip where |m| exceeds it"),
        RangeParameter("gamma", 1e-5, 1e-1, log_scale=True, description="rate of the gradient average m"),
    ),
    fixed=_BOP_FIXED,
    description="Bop (Helwegen et al. 2019): flip on a thresholded gradient average, 2 tuned.",
    to_trial=_bop_to_trial,
)
