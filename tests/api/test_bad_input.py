"""Bad input is a 4xx naming the field, never a 500, and writes nothing; limits from the settings are 422s."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from tests.api.conftest import ClientFactory, finished_study, storage_of

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

STUDY: dict[str, Any] = {"task": "audio", "space": "filter", "n_trials": 3, "epochs": 1}
COMPARISON: dict[str, Any] = {
    "task": "audio",
    "spaces": ["latent", "filter"],
    "replicates": 2,
    "n_trials": 3,
    "epochs": 1,
}


def _post_raw(client: TestClient, path: str, text: str) -> Any:
    return client.post(path, content=text, headers={"content-type": "application/json"})


def _assert_names(response: Any, field: str, status: int = 422) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["field"] == field, body
    assert field.split(".")[0] in body["detail"], body
    return body


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('{"task": "audio", "space": "filter"', "body"),  # malformed JSON
        ("[1, 2, 3]", "body"),
        ("", "body"),
        (json.dumps({**STUDY, "space": "nope"}), "space"),
        (json.dumps({**STUDY, "task": "mnist"}), "task"),
        (json.dumps({**STUDY, "task": ""}), "task"),
        (json.dumps({**STUDY, "task": "audio\u0000"}), "task"),
        (json.dumps({**STUDY, "space": "x" * 500}), "space"),
        (json.dumps({**STUDY, "n_trials": 0}), "n_trials"),
        (json.dumps({**STUDY, "n_trials": -3}), "n_trials"),
        (json.dumps({**STUDY, "n_trials": "5"}), "n_trials"),
        (json.dumps({**STUDY, "n_trials": 3.0}), "n_trials"),
        (json.dumps({**STUDY, "n_trials": True}), "n_trials"),
        (json.dumps({**STUDY, "n_trials": None}), "n_trials"),
        ('{"task": "audio", "space": "filter", "n_trials": 3, "epochs": NaN}', "epochs"),
        ('{"task": "audio", "space": "filter", "n_trials": 3, "epochs": Infinity}', "epochs"),
        (json.dumps({**STUDY, "epochs": 1e308}), "epochs"),
        (json.dumps({**STUDY, "seed": 10**30}), "seed"),
        (json.dumps({**STUDY, "seed": -1}), "seed"),
        (json.dumps({**STUDY, "batch_size": 10**6}), "batch_size"),
        (json.dumps({**STUDY, "objective": "test_accuracy"}), "objective"),
        (json.dumps({**STUDY, "parallelism": 4}), "parallelism"),  # more than n_trials
        (json.dumps({**STUDY, "colour": "red"}), "colour"),
        (json.dumps({**STUDY, "task": None}), "task"),  # left out it takes its default, audio; null is no task
        (json.dumps({**STUDY, "early_stopping": {"rule": "sometimes"}}), "early_stopping.rule"),
        ('{"task": "audio", "space": "filter", "n_trials": 3, "epochs": 1, '
         '"early_stopping": {"rule": "percentile", "percentile": NaN}}', "early_stopping.percentile"),
        (json.dumps({**STUDY, "early_stopping": {"rule": "median", "percentile": 25}}),
         "early_stopping.percentile"),
        (json.dumps({**STUDY, "n_trials": 201}), "n_trials"),  # over the default limit of 200
        (json.dumps({**STUDY, "epochs": 501}), "epochs"),  # over the default limit of 500
    ],
)  # fmt: skip
def test_bad_study_is_refused_naming_the_field_and_nothing_is_written(
    client: TestClient, text: str, field: str
) -> None:
    _assert_names(_post_raw(client, "/studies", text), field)
    assert storage_of(client).count_studies() == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"spaces": []}, "spaces"),
        ({"spaces": ["latent", "latent"]}, "spaces"),
        ({"spaces": ["latent", "nope"]}, "spaces"),
        ({"spaces": "latent"}, "spaces"),
        ({"replicates": 0}, "replicates"),
        ({"replicates": "2"}, "replicates"),
        ({"replicates": 51}, "replicates"),  # over the default limit of 50
        ({"n_trials": 0}, "n_trials"),
        ({"task": "mnist"}, "task"),
        ({"space": "filter"}, "space"),  # a comparison has spaces, not a space
    ],
)
def test_bad_comparison_is_refused_naming_the_field_and_nothing_is_written(
    client: TestClient, change: dict[str, Any], field: str
) -> None:
    _assert_names(client.post("/comparisons", json={**COMPARISON, **change}), field)
    storage = storage_of(client)
    assert (storage.count_comparisons(), storage.count_studies()) == (0, 0)


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/studies/abc", "study_id"),
        ("/studies/0", "study_id"),
        ("/studies/99999999999999999999", "study_id"),
        ("/studies/1.5", "study_id"),
        ("/studies/1/trials/-1/curve", "number"),
        ("/comparisons/-4", "comparison_id"),
        ("/comparisons/1e3/export.csv", "comparison_id"),
        ("/studies?limit=0", "limit"),
        ("/studies?limit=100000", "limit"),
        ("/studies?limit=abc", "limit"),
        ("/studies?offset=-1", "offset"),
        ("/studies?offset=99999999999999999999999", "offset"),
        ("/studies?state=sleeping", "state"),
        ("/studies?comparison_id=0", "comparison_id"),
        ("/studies?space=%00", "space"),
        ("/comparisons?limit=-1", "limit"),
    ],
)
def test_bad_path_or_query_is_422_naming_it(client: TestClient, path: str, field: str) -> None:
    _assert_names(client.get(path), field)


def test_a_bad_id_on_a_write_is_refused_before_anything_happens(client: TestClient) -> None:
    _assert_names(client.post("/studies/1e9/cancel"), "study_id")
    _assert_names(client.post("/comparisons/abc/cancel"), "comparison_id")


def test_unknown_ids_on_writes_are_404(client: TestClient) -> None:
    for path in ("/studies/12/cancel", "/comparisons/12/cancel"):
        response = client.post(path)
        assert response.status_code == 404, response.text
        assert "12" in response.json()["detail"]


def test_an_oversized_body_is_refused_unparsed(client: TestClient) -> None:
    response = client.post("/studies", json={**STUDY, "task": "a" * 100_000})
    assert response.status_code == 413
    assert storage_of(client).count_studies() == 0


def test_values_are_never_echoed_back(client: TestClient) -> None:
    # A NaN echoed in the error body would make the error itself unserializable: a 500.
    text = '{"task": "audio", "space": "filter", "n_trials": NaN, "epochs": NaN}'
    response = _post_raw(client, "/studies", text)
    body = _assert_names(response, "n_trials")
    assert [e["field"] for e in body["errors"]] == ["n_trials", "epochs"]
    assert "NaN" not in response.text and "nan" not in response.text


def test_configured_limits_are_named(make_client: ClientFactory) -> None:
    limits = {"max_trials_per_study": 5, "max_epochs": 3, "max_replicates": 2}
    with make_client(**limits) as client:
        cases = [
            ("/studies", {**STUDY, "n_trials": 6}, "n_trials", "BNN_TUNE_MAX_TRIALS_PER_STUDY"),
            ("/studies", {**STUDY, "epochs": 4}, "epochs", "BNN_TUNE_MAX_EPOCHS"),
            ("/comparisons", {**COMPARISON, "replicates": 3}, "replicates", "BNN_TUNE_MAX_REPLICATES"),
            ("/comparisons", {**COMPARISON, "epochs": 4}, "epochs", "BNN_TUNE_MAX_EPOCHS"),
        ]
        for path, body, field, limit in cases:
            detail = _assert_names(client.post(path, json=body), field)["detail"]
            assert limit in detail
        assert client.post("/studies", json={**STUDY, "n_trials": 5, "epochs": 3}).status_code == 201


def test_concurrent_study_limit_counts_queued_and_running_studies(make_client: ClientFactory) -> None:
    with make_client(max_concurrent_studies=3) as client:
        storage = storage_of(client)
        finished_study(storage)  # finished studies do not count
        ids = [client.post("/studies", json=STUDY).json()["id"] for _ in range(2)]
        storage.set_study_state(ids[0], "running")

        body = _assert_names(client.post("/comparisons", json=COMPARISON), "replicates")
        assert "BNN_TUNE_MAX_CONCURRENT_STUDIES" in body["detail"]
        assert client.post("/studies", json=STUDY).status_code == 201
        refused = client.post("/studies", json=STUDY)
        assert refused.status_code == 422
        assert "max_concurrent_studies = 3" in refused.json()["detail"]
        assert storage.count_studies() == 4

        client.post(f"/studies/{ids[1]}/cancel")
        assert client.post("/studies", json=STUDY).status_code == 201
