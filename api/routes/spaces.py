"""``/spaces``: the registered search spaces, their tuned parameters and the settings they hold fixed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api.deps import ReadAccess
from api.schemas import ParameterPublic, SpacePublic
from bnn_errors import NotFoundError
from search_spaces import Parameter, RangeParameter, SearchSpace, UnknownSpaceError, get_space, list_spaces

__all__ = ["router", "space_public"]

router = APIRouter(prefix="/spaces", tags=["spaces"], dependencies=[ReadAccess])


def _parameter(parameter: Parameter) -> ParameterPublic:
    if isinstance(parameter, RangeParameter):
        return ParameterPublic(
            name=parameter.name,
            kind="range",
            description=parameter.description,
            lower=parameter.lower,
            upper=parameter.upper,
            log_scale=parameter.log_scale,
        )
    return ParameterPublic(
        name=parameter.name, kind="choice", description=parameter.description, choices=list(parameter.choices)
    )


def space_public(space: SearchSpace) -> SpacePublic:
    """The response model of a search space."""
    return SpacePublic(
        name=space.name,
        optimizer=space.optimizer,
        description=space.description,
        parameters=[_parameter(p) for p in space.parameters],
        fixed=dict(space.fixed),
    )


@router.get("", summary="List the search spaces")
def get_spaces() -> list[SpacePublic]:
    """Every registered search space, sorted by name."""
    return [space_public(space) for space in list_spaces()]


@router.get("/{name}", summary="Read a search space")
def get_one_space(name: Annotated[str, Path(max_length=64, description="the space's name")]) -> SpacePublic:
    """The search space registered as ``name``; 404 if there is none."""
    try:
        return space_public(get_space(name))
    except UnknownSpaceError as error:
        raise NotFoundError(str(error)) from None
