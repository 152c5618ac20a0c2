"""Schemathesis against the app's own OpenAPI schema: valid and invalid requests alike never get a 5xx.

In-process (ASGI) on a real SQLite file that already holds a finished study and comparison, so that the ids
the fuzzer tries (small integers) reach real rows too. Bounded and derandomized: the same cases on every run.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err

from api import create_app
from tests.api.conftest import finished_comparison, finished_study, make_settings, storage_of

if TYPE_CHECKING:
    from fastapi import FastAPI

EXAMPLES_PER_OPERATION = 20
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)


@pytest.fixture(scope="module")
def seeded_app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    """The app on a SQLite file holding a finished study (id 1) and a finished comparison (id 1)."""
    from fastapi.testclient import TestClient

    path = Path(tmp_path_factory.mktemp("fuzz")) / "bnn-tune.db"
    app = create_app(make_settings(f"sqlite:///{path}"), run_scheduler=False)
    with TestClient(app) as client:
        finished_study(storage_of(client))
        finished_comparison(storage_of(client), replicates=2, n_trials=3)
    return app


def _operations(app: FastAPI) -> list[Any]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        operations.append(result.ok())
    return operations


def test_no_operation_answers_with_a_server_error(seeded_app: FastAPI) -> None:
    operations = _operations(seeded_app)
    assert len(operations) >= 15
    for operation in operations:
        for mode in MODES:

            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                derandomize=True,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(mode))
            def no_server_error(case: schemathesis.Case[Any]) -> None:
                case.call_and_validate(checks=[not_a_server_error])

            try:
                no_server_error()
            except Unsatisfiable:
                # An operation without parameters or body has no invalid request to make.
                assert mode is schemathesis.GenerationMode.NEGATIVE, operation.label
            except Exception as error:
                error.add_note(f"operation {operation.label} ({mode.value})")
                raise
