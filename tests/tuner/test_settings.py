"""Settings from BNN_TUNE_* variables: defaults, parsing, validation messages, overrides."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest

from bnn_errors import InvalidInputError
from tuner.execution.executor import InlineExecutor
from tuner.execution.runner import build_executor
from tuner.settings import Settings, env_variable, get_settings, override_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for variable in list(os.environ):
        if variable.startswith("BNN_TUNE_") or variable == "RAY_ADDRESS":
            monkeypatch.delenv(variable)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_defaults() -> None:
    settings = get_settings()
    assert settings.database_url == "sqlite:///./bnn-tune.db"
    assert settings.ray_address is None
    assert (settings.num_cpus_per_trial, settings.num_gpus_per_trial) == (1.0, 0.0)
    assert settings.max_trial_retries == 2
    assert settings.data_dir is None and settings.api_token is None and settings.auth_reads is False
    assert (settings.max_trials_per_study, settings.max_replicates, settings.max_epochs) == (200, 50, 500)
    assert settings.max_concurrent_studies == 100
    assert settings.scheduler_poll_seconds == 0.5
    assert settings.batch_trials is False and settings.suggestion_workers == 0
    assert all(field.description for field in Settings.model_fields.values())


def test_read_from_the_environment_and_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BNN_TUNE_MAX_EPOCHS", "12")
    monkeypatch.setenv("BNN_TUNE_NUM_GPUS_PER_TRIAL", "0.25")
    monkeypatch.setenv("BNN_TUNE_AUTH_READS", "true")
    monkeypatch.setenv("BNN_TUNE_DATA_DIR", "/data/bnn")
    monkeypatch.setenv("BNN_TUNE_API_TOKEN", "s3cret-token")
    settings = get_settings()
    assert (settings.max_epochs, settings.num_gpus_per_trial, settings.auth_reads) == (12, 0.25, True)
    assert settings.data_dir == Path("/data/bnn")
    assert settings.api_token is not None and settings.api_token.get_secret_value() == "s3cret-token"
    assert "s3cret-token" not in repr(settings)
    monkeypatch.setenv("BNN_TUNE_MAX_EPOCHS", "13")
    assert get_settings() is settings  # cached until cleared
    get_settings.cache_clear()
    assert get_settings().max_epochs == 13


def test_empty_variables_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BNN_TUNE_API_TOKEN", "")
    monkeypatch.setenv("BNN_TUNE_MAX_EPOCHS", "")
    assert get_settings().api_token is None
    assert get_settings().max_epochs == 500


def test_ray_address_falls_back_to_ray_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAY_ADDRESS", "ray://head:10001")
    assert get_settings().ray_address == "ray://head:10001"
    monkeypatch.setenv("BNN_TUNE_RAY_ADDRESS", "ray://other:10001")
    get_settings.cache_clear()
    assert get_settings().ray_address == "ray://other:10001"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("BNN_TUNE_MAX_EPOCHS", "0"),
        ("BNN_TUNE_NUM_CPUS_PER_TRIAL", "lots"),
        ("BNN_TUNE_NUM_GPUS_PER_TRIAL", "-1"),
        ("BNN_TUNE_SCHEDULER_POLL_SECONDS", "0"),
        ("BNN_TUNE_DATABASE_URL", "not a database"),
        ("BNN_TUNE_AUTH_READS", "perhaps"),
        ("BNN_TUNE_BATCH_TRIALS", "sometimes"),
    ],
)
def test_invalid_values_name_the_variable(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(InvalidInputError, match=variable) as info:
        get_settings()
    assert repr(value) in str(info.value)


def test_override_settings_applies_and_restores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAY_ADDRESS", "ray://head:10001")
    with override_settings(max_epochs=3, auth_reads=True, ray_address=None, data_dir=Path("/tmp/d")) as settings:
        assert settings is get_settings()
        assert (settings.max_epochs, settings.auth_reads, settings.ray_address) == (3, True, None)
        assert settings.data_dir == Path("/tmp/d")
    restored = get_settings()
    assert (restored.max_epochs, restored.auth_reads, restored.ray_address) == (
        500,
        False,
        "ray://head:10001",
    )
    assert "BNN_TUNE_MAX_EPOCHS" not in os.environ


def test_override_settings_rejects_unknown_and_invalid() -> None:
    with pytest.raises(TypeError, match="max_epoch"), override_settings(max_epoch=3):
        pass
    with (
        pytest.raises(InvalidInputError, match="BNN_TUNE_MAX_REPLICATES"),
        override_settings(max_replicates=0),
    ):
        pass
    assert get_settings().max_replicates == 50


def test_env_variable_names() -> None:
    assert env_variable("database_url") == "BNN_TUNE_DATABASE_URL"


def test_resources_per_trial_are_read_as_json() -> None:
    from tuner.settings import override_settings

    with override_settings(resources_per_trial='{"second_node": 0.5}') as settings:
        assert settings.resources_per_trial == {"second_node": 0.5}
    bad = override_settings(resources_per_trial='{"second_node": "lots"}')
    with pytest.raises(InvalidInputError, match="BNN_TUNE_RESOURCES_PER_TRIAL"), bad:
        pass


def test_batch_trials_setting_decides_unless_the_command_asks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BNN_TUNE_BATCH_TRIALS", "true")
    settings = get_settings()
    assert settings.batch_trials is True
    # the service builds its executor from the settings alone; a command's --batch-trials passes True
    executor = build_executor(settings, "inline")
    assert isinstance(executor, InlineExecutor) and executor.batch is True
    off = settings.model_copy(update={"batch_trials": False})
    assert cast(InlineExecutor, build_executor(off, "inline")).batch is False
    assert cast(InlineExecutor, build_executor(off, "inline", batch=True)).batch is True
