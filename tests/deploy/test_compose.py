"""The deployment files, checked by parsing (no Docker engine is needed): docker-compose.yml, .env.example, the
Dockerfile, requirements.lock, docs/cluster.md, and the entrypoint script, which runs for real on a SQLite file."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tuner.settings import Settings, env_variable

REPO = Path(__file__).resolve().parents[2]
SERVICES = {"postgres", "api", "scheduler", "ray-head", "ray-worker"}
# Which settings each service reads. The API validates requests against the limits and checks capacity; the
# scheduler reaches Ray, reserves resources per trial, retries, polls and hands the data root to the workers.
API_SETTINGS = {
    "database_url",
    "api_token",
    "auth_reads",
    "max_trials_per_study",
    "max_replicates",
    "max_epochs",
    "max_concurrent_studies",
}
SCHEDULER_SETTINGS = {
    "database_url",
    "ray_address",
    "num_cpus_per_trial",
    "num_gpus_per_trial",
    "resources_per_trial",
    "max_trial_retries",
    "data_dir",
    "max_concurrent_studies",
    "scheduler_poll_seconds",
    "suggestion_workers",
    "batch_trials",
}
# `${NAME}` or `${NAME:-default}`; `$${...}` is compose's escape for a literal `$` and is no variable.
_INTERPOLATION = re.compile(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)(?::?-([^}]*))?\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return loaded


def _service(compose: dict[str, Any], name: str) -> dict[str, Any]:
    service: dict[str, Any] = compose["services"][name]
    return service


def _command(service: dict[str, Any]) -> list[str]:
    command = service["command"]
    return command if isinstance(command, list) else command.split()


def _defaults(text: str) -> dict[str, str]:
    """Every interpolated variable of ``text`` with its default (empty where it has none)."""
    return {match[1]: match[2] or "" for match in _INTERPOLATION.finditer(text)}


def _environment(service: dict[str, Any]) -> dict[str, str]:
    """The service's environment as its defaults resolve it, checking each value reads the same-named variable."""
    resolved = {}
    for name, value in service.get("environment", {}).items():
        text = str(value)
        variables = _defaults(text)
        if name.startswith("BNN_TUNE_"):
            # A setting must stay overridable from .env under its own name.
            assert list(variables) == [name], f"{name}: {text!r} does not read ${{{name}}}"
        resolved[name] = _INTERPOLATION.sub(lambda match: match[2] or "", text)
    return resolved


def test_the_cluster_has_its_five_services(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == SERVICES


def test_every_service_has_a_healthcheck(compose: dict[str, Any]) -> None:
    for name in SERVICES:
        check = _service(compose, name).get("healthcheck")
        assert check and not check.get("disable") and check["test"], name
    assert "pg_isready" in " ".join(_service(compose, "postgres")["healthcheck"]["test"])
    assert "127.0.0.1:8000/readyz" in " ".join(_service(compose, "api")["healthcheck"]["test"])
    assert "health-check" in _service(compose, "ray-head")["healthcheck"]["test"]


@pytest.mark.parametrize(
    ("name", "needs"),
    [
        ("api", {"postgres"}),
        ("scheduler", {"postgres", "api", "ray-head"}),
        ("ray-worker", {"ray-head"}),
    ],
)
def test_services_start_after_what_they_need_is_healthy(compose: dict[str, Any], name: str, needs: set[str]) -> None:
    depends_on = _service(compose, name)["depends_on"]
    assert set(depends_on) == needs
    assert all(depends_on[other]["condition"] == "service_healthy" for other in needs)


def test_postgres_keeps_its_data_in_a_named_volume(compose: dict[str, Any]) -> None:
    mounts = [str(volume).split(":") for volume in _service(compose, "postgres")["volumes"]]
    named = [source for source, target, *_ in mounts if target == "/var/lib/postgresql/data"]
    assert named and named[0] in compose["volumes"]


def test_the_service_commands(compose: dict[str, Any]) -> None:
    api = _command(_service(compose, "api"))
    assert api[:3] == ["bnn-tune", "serve", "--no-scheduler"]
    assert api[api.index("--host") + 1] == "0.0.0.0"
    assert _command(_service(compose, "scheduler")) == ["bnn-tune", "scheduler"]
    head = _command(_service(compose, "ray-head"))
    assert head[:2] == ["ray", "start"] and {"--head", "--block", "--dashboard-host=0.0.0.0"} <= set(head)
    assert any(str(port).endswith(":8265") for port in _service(compose, "ray-head")["ports"])
    worker = _command(_service(compose, "ray-worker"))
    assert worker[:2] == ["ray", "start"] and "--block" in worker and "--address=ray-head:6379" in worker


def test_ray_workers_reserve_an_nvidia_gpu_and_scale(compose: dict[str, Any]) -> None:
    worker = _service(compose, "ray-worker")
    devices = worker["deploy"]["resources"]["reservations"]["devices"]
    assert len(devices) == 1
    device = devices[0]
    assert device["driver"] == "nvidia"
    assert "gpu" in device["capabilities"]
    assert "count" in device or "device_ids" in device
    # `--scale ray-worker=N` refuses a fixed container name, and N containers cannot publish one host port.
    assert "container_name" not in worker
    assert "ports" not in worker


def test_every_setting_reaches_the_services_that_read_it(compose: dict[str, Any]) -> None:
    assert set(Settings.model_fields) == API_SETTINGS | SCHEDULER_SETTINGS, "assign every setting to a service"
    api = _environment(_service(compose, "api"))
    scheduler = _environment(_service(compose, "scheduler"))
    assert {env_variable(field) for field in API_SETTINGS} <= set(api)
    assert {env_variable(field) for field in SCHEDULER_SETTINGS} <= set(scheduler)
    assert scheduler["BNN_TUNE_RAY_ADDRESS"] == "ray-head:6379"
    assert api["BNN_TUNE_DATABASE_URL"] == scheduler["BNN_TUNE_DATABASE_URL"]
    assert "@postgres:5432/" in api["BNN_TUNE_DATABASE_URL"]


@pytest.mark.parametrize("name", ["api", "scheduler"])
def test_the_default_environment_is_valid_settings(
    compose: dict[str, Any], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in [v for v in os.environ if v.startswith("BNN_TUNE_")] + ["RAY_ADDRESS"]:
        monkeypatch.delenv(variable, raising=False)
    for variable, value in _environment(_service(compose, name)).items():
        monkeypatch.setenv(variable, value)
    settings = Settings()
    assert settings.database_url.startswith("postgresql+psycopg://")


def test_the_bnn_tune_containers_read_the_env_file(compose: dict[str, Any]) -> None:
    for name in SERVICES - {"postgres"}:
        env_files = _service(compose, name)["env_file"]
        assert {"path": ".env", "required": False} in env_files, name


def test_env_example_lists_every_variable_with_the_compose_default(compose: dict[str, Any]) -> None:
    example = {}
    for line in (REPO / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            example[name.strip()] = value.strip()
    compose_defaults = _defaults((REPO / "docker-compose.yml").read_text())
    assert set(example) == set(compose_defaults)
    assert {env_variable(field) for field in Settings.model_fields} <= set(example)
    assert {name: value for name, value in example.items() if value != compose_defaults[name]} == {}


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined, comments dropped."""
    instructions = []
    pending = ""
    for line in (REPO / "Dockerfile").read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip().removesuffix("\\") + " "
        if not line.rstrip().endswith("\\"):
            keyword, _, arguments = pending.strip().partition(" ")
            instructions.append((keyword.upper(), " ".join(arguments.split())))
            pending = ""
    return instructions


def _final_stage(instructions: list[tuple[str, str]]) -> list[tuple[str, str]]:
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def test_dockerfile_is_multi_stage_with_a_cpu_default_and_a_cuda_base_by_argument() -> None:
    instructions = _dockerfile_instructions()
    stages = [arguments for keyword, arguments in instructions if keyword == "FROM"]
    assert len(stages) >= 3 and all(" AS " in stage for stage in stages)
    assert stages[0].startswith("${BASE_IMAGE} AS ")
    args = dict(arguments.partition("=")[::2] for keyword, arguments in instructions if keyword == "ARG")
    assert args["BASE_IMAGE"].startswith("python:3.")
    assert args["TORCH_INDEX_URL"] == "https://download.pytorch.org/whl/cpu"
    assert args["TORCH_VERSION"] == "2.13.0"
    runs = " ".join(arguments for keyword, arguments in instructions if keyword == "RUN")
    assert '"torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX_URL}"' in runs
    assert "pip install -r requirements.lock" in runs
    assert "nvidia/cuda:" in (REPO / "Dockerfile").read_text(), "the header shows the CUDA build"


def test_dockerfile_runs_as_a_non_root_user_with_a_healthcheck_and_the_entrypoint() -> None:
    final = _final_stage(_dockerfile_instructions())
    users = [arguments for keyword, arguments in final if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    healthchecks = [arguments for keyword, arguments in final if keyword == "HEALTHCHECK"]
    assert len(healthchecks) == 1 and "/healthz" in healthchecks[0]
    entrypoints = [arguments for keyword, arguments in final if keyword == "ENTRYPOINT"]
    assert entrypoints == ['["/usr/local/bin/bnn-tune-entrypoint"]']
    assert any("docker/entrypoint.sh /usr/local/bin/bnn-tune-entrypoint" in a for k, a in final if k == "COPY")


def test_the_lock_pins_every_runtime_dependency_within_its_range() -> None:
    pins = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, pinned = line.partition("==")
            pins[canonicalize_name(name)] = pinned.strip()
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    for dependency in map(Requirement, dependencies):
        name = canonicalize_name(dependency.name)
        if name == "torch":
            assert name not in pins, "torch comes from the index the Dockerfile names"
            continue
        assert name in pins, f"{name} is not in requirements.lock"
        assert dependency.specifier.contains(pins[name]), f"{name}=={pins[name]} is outside {dependency.specifier}"
    # The lock is what the tests pass with: a version that moved means it wants regenerating.
    assert pins[canonicalize_name("ray")] == version("ray")


def test_the_cluster_docs_describe_every_setting() -> None:
    docs = (REPO / "docs" / "cluster.md").read_text()
    for field in Settings.model_fields:
        assert f"| `{env_variable(field)}` |" in docs, field
    for step in ("docker compose up", "ray start --address", "--scale ray-worker="):
        assert step in docs


def _fake(directory: Path, name: str) -> None:
    script = directory / name
    script.write_text(f'#!/bin/sh\necho "{name} $*" >> "{directory / "calls"}"\n')
    script.chmod(0o755)


@pytest.mark.parametrize(
    ("command", "migrates", "joins_ray"),
    [
        (["bnn-tune", "scheduler"], True, True),
        (["bnn-tune", "serve", "--no-scheduler"], True, False),
        (["ray", "start", "--head", "--block"], False, False),
    ],
)
def test_entrypoint_migrates_for_the_services_then_runs_the_command(
    tmp_path: Path, command: list[str], migrates: bool, joins_ray: bool
) -> None:
    fakes = tmp_path / "bin"
    fakes.mkdir()
    _fake(fakes, "bnn-tune")
    _fake(fakes, "ray")
    database = tmp_path / "bnn-tune.db"
    env = {
        "PATH": os.pathsep.join([str(fakes), str(Path(sys.executable).parent), os.environ["PATH"]]),
        "PYTHONPATH": str(REPO),
        "BNN_TUNE_DATABASE_URL": f"sqlite:///{database}",
        "BNN_TUNE_RAY_ADDRESS": "ray-head:6379",
        "HOME": str(tmp_path),
    }
    result = subprocess.run(
        ["sh", str(REPO / "docker" / "entrypoint.sh"), *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    calls = (fakes / "calls").read_text().splitlines()
    join = "ray start --address=ray-head:6379 --num-cpus=0 --num-gpus=0 --disable-usage-stats"
    assert calls == ([join] if joins_ray else []) + [" ".join(command)]
    if migrates:
        with sqlite3.connect(database) as connection:
            (revision,) = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        assert revision
    else:
        assert not database.exists()
