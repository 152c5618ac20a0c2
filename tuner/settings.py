"""The service's settings: read from ``BNN_TUNE_*`` environment variables, typed and validated, cached.

Obtain them with :func:`get_settings`; tests change them with :func:`override_settings` (or by setting the
variables and calling ``get_settings.cache_clear()``). Empty variables count as unset.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bnn_errors import InvalidInputError

__all__ = ["ENV_PREFIX", "Settings", "env_variable", "get_settings", "override_settings"]

ENV_PREFIX = "BNN_TUNE_"

# Ray's own variable, honoured so that a cluster set up for Ray needs no second setting.
_RAY_ADDRESS = "RAY_ADDRESS"


class Settings(BaseSettings):
    """Every setting of the service; each field is read from ``BNN_TUNE_<FIELD NAME IN CAPITALS>``."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_ignore_empty=True, extra="forbid", frozen=True)

    database_url: str = Field(
        default="sqlite:///./bnn-tune.db",
        description="SQLAlchemy URL of the database of studies, trials and curves "
        "(e.g. postgresql+psycopg://user:password@host/db); the default is a SQLite file in the working "
        "directory.",
    )
    ray_address: str | None = Field(
        default=None,
        validation_alias=AliasChoices(f"{ENV_PREFIX}RAY_ADDRESS", _RAY_ADDRESS, "ray_address"),
        description="Address of an existing Ray cluster; unset falls back to RAY_ADDRESS, "
        "and with neither a local Ray instance is started.",
    )
    num_cpus_per_trial: float = Field(default=1.0, gt=0, description="CPU cores Ray reserves for each trial.")
    num_gpus_per_trial: float = Field(
        default=0.0, ge=0, description="GPUs (or a fraction of one) Ray reserves for each trial."
    )
    resources_per_trial: dict[str, float] = Field(
        default_factory=dict,
        description='Custom Ray resources each trial reserves, as JSON (e.g. {"gpu_node": 0.01}): steers trials to '
        "the nodes started with that resource.",
    )
    max_trial_retries: int = Field(
        default=2,
        ge=0,
        description="How often a trial whose worker died runs again before it is marked failed.",
    )
    data_dir: Path | None = Field(
        default=None, description="Directory holding the data sets; unset uses the trainers' default."
    )
    api_token: SecretStr | None = Field(
        default=None,
        description="Bearer token the API requires on writes (and on reads with auth_reads); "
        "unset disables authentication.",
    )
    auth_reads: bool = Field(default=False, description="Whether reading results requires the API token too.")
    max_trials_per_study: int = Field(default=200, ge=1, description="Largest n_trials a study may ask for.")
    max_replicates: int = Field(default=50, ge=1, description="Most replicates a comparison may ask for.")
    max_epochs: int = Field(default=500, ge=1, description="Most training epochs a trial may ask for.")
    max_concurrent_studies: int = Field(
        default=100, ge=1, description="Most studies the scheduler runs at the same time."
    )
    suggestion_workers: int = Field(
        default=0,
        ge=0,
        description="Processes that compute Bayesian-optimization suggestions for many studies at once (a "
        "comparison's replicates); 0 asks one study after another in the scheduler's process.",
    )
    batch_trials: bool = Field(
        default=False,
        description="Train the trials of one scheduler round that fit together as one batched model "
        "(audio trials anywhere, CIFAR-10 trials on GPU workers); a batch runs on one worker.",
    )
    scheduler_poll_seconds: float = Field(
        default=0.5,
        gt=0,
        description="Seconds the scheduler waits between looks at queued studies and ended trials.",
    )

    @field_validator("database_url")
    @classmethod
    def _parseable_url(cls, value: str) -> str:
        try:
            make_url(value)
        except ArgumentError as error:
            raise ValueError(f"not a database URL ({error})") from None
        return value


def env_variable(field: str) -> str:
    """The environment variable that sets ``field`` (e.g. ``BNN_TUNE_DATABASE_URL``)."""
    return f"{ENV_PREFIX}{field.upper()}"


@cache
def get_settings() -> Settings:
    """The settings read from the environment, once (cached; ``get_settings.cache_clear()`` re-reads).

    Raises ``InvalidInputError`` naming each variable that does not validate, with its problem.
    """
    try:
        return Settings()
    except ValidationError as error:
        problems = []
        for detail in error.errors():
            field = str(detail["loc"][0]) if detail["loc"] else "?"
            variable = field if field.upper() == _RAY_ADDRESS else env_variable(field)
            problems.append(f"{variable}={detail.get('input')!r}: {detail['msg']}")
        raise InvalidInputError("invalid settings: " + "; ".join(problems)) from None


@contextmanager
def override_settings(**values: object) -> Iterator[Settings]:
    """Within the block, :func:`get_settings` returns the current settings with ``values`` changed.

    The values go through the environment, so they are validated like real variables; ``None`` unsets one.
    Raises ``TypeError`` for an unknown setting and ``InvalidInputError`` for an invalid value.
    """
    unknown = sorted(set(values) - set(Settings.model_fields))
    if unknown:
        raise TypeError(f"unknown settings {unknown}; known: {sorted(Settings.model_fields)}")
    changes: dict[str, str | None] = {}
    for field, value in values.items():
        changes[env_variable(field)] = None if value is None else _as_env_text(value)
        if field == "ray_address":
            # Otherwise Ray's own variable would shine through an override to None.
            changes[_RAY_ADDRESS] = None
    saved = {variable: os.environ.get(variable) for variable in changes}
    try:
        _set_environ(changes)
        get_settings.cache_clear()
        yield get_settings()
    finally:
        _set_environ(saved)
        get_settings.cache_clear()


def _as_env_text(value: object) -> str:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _set_environ(values: dict[str, str | None]) -> None:
    for variable, text in values.items():
        if text is None:
            os.environ.pop(variable, None)
        else:
            os.environ[variable] = text
