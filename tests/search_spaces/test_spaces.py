"""Built-in search spaces, point validation, the latent -> filter mapping and the registry."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from search_spaces import (
    BOP_SPACE,
    FILTER_SPACE,
    LATENT_SPACE,
    ChoiceParameter,
    RangeParameter,
    SearchSpace,
    UnknownSpaceError,
    get_space,
    latent_to_filter,
    list_spaces,
    register_space,
    unregister_space,
)

LATENT_POINT = {
    "lr": 0.1,
    "weight_decay": 1e-4,
    "one_minus_momentum": 0.1,
    "init_scale": 0.01,
    "scaling": "on",
    "clipping": "off",
}


def _ranges(space: SearchSpace) -> dict[str, tuple[float, float, bool]]:
    return {p.name: (p.lower, p.upper, p.log_scale) for p in space.parameters if isinstance(p, RangeParameter)}


def test_latent_space_matches_table_1() -> None:
    assert LATENT_SPACE.optimizer == "latent"
    assert _ranges(LATENT_SPACE) == {
        "lr": (1e-4, 10.0, True),
        "weight_decay": (1e-7, 1e-1, True),
        "one_minus_momentum": (1e-3, 1.0, True),
        "init_scale": (1e-4, 1.0, True),
    }
    choices = {p.name: p.choices for p in LATENT_SPACE.parameters if isinstance(p, ChoiceParameter)}
    assert choices == {"scaling": ("off", "on"), "clipping": ("off", "on")}
    assert len(LATENT_SPACE.parameters) == 6
    assert LATENT_SPACE.fixed == {"decay": "cosine"}
    assert "|w| > 1" in LATENT_SPACE.parameter("clipping").description


def test_filter_and_bop_spaces_match_table_1() -> None:
    assert FILTER_SPACE.optimizer == "filter"
    assert _ranges(FILTER_SPACE) == {"alpha": (1e-6, 1e-1, True), "gamma": (1e-4, 1.0, True)}
    assert FILTER_SPACE.fixed["decay"] == "cosine"
    assert _ranges(BOP_SPACE) == {"threshold": (1e-8, 1e-2, True), "gamma": (1e-5, 1e-1, True)}
    assert BOP_SPACE.fixed["decay"] == "none"


@pytest.mark.parametrize(
    ("change", "named", "mentions"),
    [
        ({"lr": None}, "lr", "missing"),
        ({"beta": 0.5}, "beta", "no parameters"),
        ({"lr": 11.0}, "lr", "[0.0001, 10]"),
        ({"weight_decay": 1e-8}, "weight_decay", "outside"),
        ({"init_scale": math.nan}, "init_scale", "NaN"),
        ({"lr": "0.1"}, "lr", "str"),
        ({"one_minus_momentum": True}, "one_minus_momentum", "bool"),
        ({"scaling": "yes"}, "scaling", "('off', 'on')"),
        ({"clipping": 1}, "clipping", "choices"),
    ],
)
def test_validate_names_the_bad_parameter(change: dict[str, object], named: str, mentions: str) -> None:
    point = {**LATENT_POINT, **change}
    point = {k: v for k, v in point.items() if v is not None}
    with pytest.raises(ValueError, match=named) as info:
        LATENT_SPACE.validate(point)
    assert mentions in str(info.value)
    with pytest.raises(ValueError):
        LATENT_SPACE.build_trial(point)


def test_valid_point_passes_and_bounds_are_inclusive() -> None:
    LATENT_SPACE.validate(LATENT_POINT)
    FILTER_SPACE.validate({"alpha": 1e-6, "gamma": 1.0})
    FILTER_SPACE.validate({"alpha": 0.1, "gamma": 1})  # an int is a number too


def test_latent_to_trial_maps_momentum_and_binary_options() -> None:
    trial = LATENT_SPACE.build_trial(LATENT_POINT)
    assert trial == {
        "optimizer": "latent",
        "hyperparameters": {"lr": 0.1, "momentum": pytest.approx(0.9), "weight_decay": 1e-4},
        "binary": {"init_scale": 0.01, "ste_clip": False, "scaling": True},
        "decay": "cosine",
    }
    flipped = LATENT_SPACE.to_trial({**LATENT_POINT, "scaling": "off", "clipping": "on", "one_minus_momentum": 1.0})
    assert flipped["binary"] == {"init_scale": 0.01, "ste_clip": True, "scaling": False}
    assert flipped["hyperparameters"]["momentum"] == 0.0  # type: ignore[index]


def test_filter_and_bop_to_trial() -> None:
    trial = FILTER_SPACE.build_trial({"alpha": 1e-3, "gamma": 1e-2})
    assert trial == {
        "optimizer": "filter",
        "hyperparameters": {"alpha": 1e-3, "gamma": 1e-2},
        "binary": {"init_scale": 1.0, "ste_clip": False, "scaling": False},
        "decay": "cosine",
    }
    bop = BOP_SPACE.build_trial({"threshold": 1e-6, "gamma": 1e-3})
    assert bop["optimizer"] == "bop"
    assert bop["hyperparameters"] == {"threshold": 1e-6, "gamma": 1e-3}
    assert bop["decay"] == "none"


def test_latent_to_filter() -> None:
    alpha, gamma = latent_to_filter(lr=0.1, weight_decay=1e-3, momentum=0.9)
    assert alpha == pytest.approx(1e-4)
    assert gamma == pytest.approx(0.1)
    assert latent_to_filter(1.0, 1.0, 0.0) == (1.0, 1.0)
    with pytest.raises(ValueError, match="alpha"):
        latent_to_filter(lr=10.0, weight_decay=0.2, momentum=0.9)
    with pytest.raises(ValueError, match="weight_decay"):
        latent_to_filter(lr=10.0, weight_decay=0.0, momentum=0.9)
    with pytest.raises(ValueError, match="momentum"):
        latent_to_filter(lr=0.1, weight_decay=0.1, momentum=1.0)
    with pytest.raises(ValueError, match="lr"):
        latent_to_filter(lr=math.inf, weight_decay=0.1, momentum=0.5)


def test_parameter_and_space_construction_errors() -> None:
    with pytest.raises(ValueError, match="below"):
        RangeParameter("x", 1.0, 1.0)
    with pytest.raises(ValueError, match="log-scale"):
        RangeParameter("x", 0.0, 1.0, log_scale=True)
    with pytest.raises(ValueError, match="distinct"):
        ChoiceParameter("x", ("a", "a"))
    x = RangeParameter("x", 0.0, 1.0)
    with pytest.raises(ValueError, match="repeats"):
        SearchSpace("s", "filter", (x, x), {}, "", FILTER_SPACE.to_trial)
    with pytest.raises(ValueError, match="both tunes and fixes"):
        SearchSpace("s", "filter", (x,), {"x": 1}, "", FILTER_SPACE.to_trial)


def test_registry_round_trip() -> None:
    assert [space.name for space in list_spaces()] == ["bop", "filter", "latent", "latent_matched"]
    assert get_space("filter") is FILTER_SPACE
    with pytest.raises(UnknownSpaceError, match=r"\['bop', 'filter', 'latent', 'latent_matched'\]"):
        get_space("adam")
    assert issubclass(UnknownSpaceError, LookupError)

    narrow = SearchSpace(
        name="filter_narrow",
        optimizer="filter",
        parameters=(RangeParameter("alpha", 1e-4, 1e-2, log_scale=True),),
        fixed={"gamma": 0.01},
        description="alpha only, gamma fixed",
        to_trial=lambda point: FILTER_SPACE.to_trial({"alpha": point["alpha"], "gamma": 0.01}),
    )
    register_space(narrow)
    try:
        assert get_space("filter_narrow") is narrow
        assert "filter_narrow" in [space.name for space in list_spaces()]
        with pytest.raises(ValueError, match="already registered"):
            register_space(narrow)
        register_space(narrow, replace=True)
        assert narrow.build_trial({"alpha": 1e-3})["hyperparameters"] == {"alpha": 1e-3, "gamma": 0.01}
    finally:
        unregister_space("filter_narrow")
    with pytest.raises(UnknownSpaceError):
        get_space("filter_narrow")


def test_fixed_settings_are_read_only() -> None:
    with pytest.raises(TypeError):
        LATENT_SPACE.fixed["decay"] = "linear"  # type: ignore[index]


@given(
    lr=st.floats(1e-4, 10.0),
    weight_decay=st.floats(1e-7, 1e-1),
    one_minus_momentum=st.floats(1e-3, 1.0),
    init_scale=st.floats(1e-4, 1.0),
    scaling=st.sampled_from(["off", "on"]),
    clipping=st.sampled_from(["off", "on"]),
)
def test_any_latent_point_in_bounds_validates(
    lr: float, weight_decay: float, one_minus_momentum: float, init_scale: float, scaling: str, clipping: str
) -> None:
    point = {
        "lr": lr,
        "weight_decay": weight_decay,
        "one_minus_momentum": one_minus_momentum,
        "init_scale": init_scale,
        "scaling": scaling,
        "clipping": clipping,
    }
    trial = LATENT_SPACE.build_trial(point)
    momentum = trial["hyperparameters"]["momentum"]  # type: ignore[index]
    assert 0.0 <= momentum < 1.0
    assert trial["binary"]["ste_clip"] == (clipping == "on")  # type: ignore[index]


def test_the_matched_latent_box_implies_the_filter_box() -> None:
    from search_spaces import LATENT_MATCHED_SPACE, RangeParameter

    latent = {p.name: p for p in LATENT_MATCHED_SPACE.parameters if isinstance(p, RangeParameter)}
    box = {p.name: p for p in FILTER_SPACE.parameters if isinstance(p, RangeParameter)}
    corners = [
        latent_to_filter(lr, wd, 1.0 - omm)
        for lr in (latent["lr"].lower, latent["lr"].upper)
        for wd in (latent["weight_decay"].lower, latent["weight_decay"].upper)
        for omm in (latent["one_minus_momentum"].lower, min(latent["one_minus_momentum"].upper, 1.0 - 1e-12))
    ]
    alphas = [alpha for alpha, _ in corners]
    gammas = [gamma for _, gamma in corners]
    assert min(alphas) == pytest.approx(box["alpha"].lower) and max(alphas) == pytest.approx(box["alpha"].upper)
    assert min(gammas) == pytest.approx(box["gamma"].lower) and max(gammas) == pytest.approx(box["gamma"].upper)
    # The plain latent box reaches far outside it: the comparison the matched space exists to untangle.
    plain = {p.name: p for p in LATENT_SPACE.parameters if isinstance(p, RangeParameter)}
    assert plain["lr"].lower * plain["weight_decay"].lower < box["alpha"].lower / 1000
