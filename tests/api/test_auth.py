"""The API token: writes need it when one is set, reads only with auth_reads; without one, a warning."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.api.conftest import ClientFactory, finished_study, storage_of

TOKEN = "s3cret-token-of-the-service"
STUDY: dict[str, Any] = {"task": "audio", "space": "filter", "n_trials": 3, "epochs": 1}
COMPARISON: dict[str, Any] = {
    "task": "audio",
    "spaces": ["latent", "filter"],
    "replicates": 1,
    "n_trials": 3,
    "epochs": 1,
}
LogCapture = pytest.LogCaptureFixture
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Bearer {TOKEN[:-1]}"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
        {"Authorization": "Bearer "},
    ],
)
def test_writes_without_the_right_token_are_401_and_write_nothing(
    make_client: ClientFactory, headers: dict[str, str]
) -> None:
    with make_client(api_token=TOKEN) as client:
        storage = storage_of(client)
        study_id = finished_study(storage)
        for path, body in (
            ("/studies", STUDY),
            ("/comparisons", COMPARISON),
            (f"/studies/{study_id}/cancel", None),
        ):
            response = client.post(path, json=body, headers=headers)
            assert response.status_code == 401, (path, response.text)
            assert response.headers["www-authenticate"] == "Bearer"
            assert TOKEN not in response.text
        assert (storage.count_studies(), storage.count_comparisons()) == (1, 0)


def test_writes_with_the_token_pass_and_reads_are_open(make_client: ClientFactory) -> None:
    with make_client(api_token=TOKEN) as client:
        response = client.post("/studies", json=STUDY, headers=BEARER)
        assert response.status_code == 201, response.text
        assert client.post("/comparisons", json=COMPARISON, headers=BEARER).status_code == 201
        assert client.post(f"/studies/{response.json()['id']}/cancel", headers=BEARER).status_code == 200
        for path in ("/studies", "/comparisons", "/spaces", f"/studies/{response.json()['id']}", "/healthz"):
            assert client.get(path).status_code == 200, path


def test_reads_need_the_token_with_auth_reads(make_client: ClientFactory) -> None:
    with make_client(api_token=TOKEN, auth_reads=True) as client:
        study_id = finished_study(storage_of(client))
        for path in (
            "/studies",
            f"/studies/{study_id}",
            f"/studies/{study_id}/export.csv",
            "/spaces",
            "/comparisons",
        ):
            assert client.get(path).status_code == 401, path
            assert client.get(path, headers={"Authorization": "Bearer nope"}).status_code == 401, path
            assert client.get(path, headers=BEARER).status_code == 200, path
        # Probes stay open, so that an orchestrator needs no secret.
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 200


def test_without_a_token_everything_is_open_and_the_start_warns(
    make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="api"), make_client() as client:
        assert client.post("/studies", json=STUDY).status_code == 201
    assert any("BNN_TUNE_API_TOKEN is not set" in r.getMessage() for r in caplog.records)


def test_with_a_token_there_is_no_warning(make_client: ClientFactory, caplog: LogCapture) -> None:
    with caplog.at_level(logging.WARNING, logger="api"), make_client(api_token=TOKEN):
        pass
    assert not any("BNN_TUNE_API_TOKEN" in r.getMessage() for r in caplog.records)


def test_the_openapi_schema_declares_bearer_auth(make_client: ClientFactory) -> None:
    with make_client(api_token=TOKEN) as client:
        schema = client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
