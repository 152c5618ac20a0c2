"""``/optimizers``: the registered BNN optimizers, their hyperparameters and the search space each is tuned over."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import ReadAccess
from trainers.optim import OptimizerEntry, list_optimizers

__all__ = ["OptimizerPublic", "router"]

router = APIRouter(prefix="/optimizers", tags=["optimizers"], dependencies=[ReadAccess])


class OptimizerPublic(BaseModel):
    """A registered BNN optimizer, as the optimizer registry of ``trainers.optim`` describes it."""

    name: str
    description: str
    space: str | None
    decay_key: str | None
    binarize: bool
    batched: bool
    hyperparameters: dict[str, Any]


def optimizer_public(entry: OptimizerEntry[Any]) -> OptimizerPublic:
    """The response model of an optimizer entry; ``hyperparameters`` is its model's JSON schema."""
    return OptimizerPublic(
        name=entry.name,
        description=(entry.optimizer.__doc__ or "").strip().partition("\n")[0],
        space=entry.space,
        decay_key=entry.decay_key,
        binarize=entry.binarize,
        batched=entry.batched is not None,
        hyperparameters=entry.hyperparameters.model_json_schema(),
    )


@router.get("", summary="List the BNN optimizers")
def get_optimizers() -> list[OptimizerPublic]:
    """Every registered BNN optimizer, in registration order."""
    return [optimizer_public(entry) for entry in list_optimizers()]
