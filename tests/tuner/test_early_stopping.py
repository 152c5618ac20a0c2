"""The percentile early-stopping rule and its configuration errors."""

from __future__ import annotations

import pytest

from bnn_errors import InvalidInputError
from tuner.study.early_stopping import EarlyStopping


def test_median_rule_stops_below_the_median_of_enough_peers() -> None:
    rule = EarlyStopping.from_config({"rule": "median", "min_trials": 3, "min_epochs": 2})
    assert rule is not None
    peers = [0.5, 0.6, 0.7]
    assert not rule.should_stop(1, 0.1, peers)  # grace period
    assert not rule.should_stop(2, 0.1, peers[:2])  # too few peers
    assert rule.should_stop(2, 0.55, peers)
    assert not rule.should_stop(2, 0.65, peers)
    assert not rule.should_stop(2, 0.55, [*peers[:2], float("nan")])  # a NaN peer does not count


def test_unset_means_off() -> None:
    assert EarlyStopping.from_config(None) is None


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"rule": "mean"}, "rule"),
        ({"rule": "percentile", "percentile": 100}, "percentile"),
        ({"rule": "percentile", "percentile": "25"}, "percentile"),
        ({"rule": "median", "percentile": 25}, "percentile"),
        ({"rule": "median", "min_epochs": 0}, "min_epochs"),
        ({"rule": "median", "min_trials": 2.5}, "min_trials"),
        ({"rule": "median", "patience": 3}, "patience"),
    ],
)
def test_bad_configs_name_the_field(config: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInputError, match=field):
        EarlyStopping.from_config(config)
