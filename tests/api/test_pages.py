"""The results pages, their data routes and the Figure 8 images, served from a seeded SQLite file."""

from __future__ import annotations

import io
import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from api.pages import comparison_payload
from bnn_errors import InvalidInputError
from tests.api.conftest_pages import EPOCHS, HOSTILE_TASK, N_TRIALS, REPLICATES, SPACES, Seeded, build_app, seed
from tuner.analysis.figures import figure8, render
from tuner.analysis.reports import comparison_view
from tuner.storage import Storage
from tuner.study.config import StudyConfig

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SVG_NAMESPACE = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Storage, Seeded]]:
    storage, ids = seed(tmp_path_factory.mktemp("pages") / "bnn-tune.db")
    with storage:
        yield storage, ids


@pytest.fixture(scope="module")
def client(seeded: tuple[Storage, Seeded]) -> Iterator[TestClient]:
    with TestClient(build_app(seeded[0])) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def ids(seeded: tuple[Storage, Seeded]) -> Seeded:
    return seeded[1]


def _page_data(html: str) -> Any:
    match = re.search(r'<script id="page-data" type="application/json">(.*?)</script>', html, re.DOTALL)
    assert match is not None, "the page inlines no data"
    return json.loads(match.group(1))


def _summary_live(html: str) -> str:
    match = re.search(r'class="summary-root" data-live="(\w+)"', html)
    assert match is not None
    return match.group(1)


# -- index ------------------------------------------------------------------------------------------------


def test_index_lists_comparisons_and_studies_newest_first_with_progress(client: TestClient, ids: Seeded) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    rows = re.findall(r'<tr class="comparison-row" data-id="(\d+)">', html)
    assert rows == [str(ids.empty), str(ids.finished)]
    total = len(SPACES) * REPLICATES * N_TRIALS
    finished_row = html.split(f'<tr class="comparison-row" data-id="{ids.finished}">')[1].split("</tr>")[0]
    assert f"{total} / {total}" in finished_row
    assert "state-completed" in finished_row
    study_rows = re.findall(r'<tr class="study-row" data-id="(\d+)">', html)
    assert study_rows[0] == str(ids.study)
    assert len(study_rows) == len(SPACES) * REPLICATES + len(SPACES) + 1
    lone_row = html.split(f'<tr class="study-row" data-id="{ids.study}">')[1].split("</tr>")[0]
    assert f"2 / {N_TRIALS}" in lone_row and "state-running" in lone_row
    # Something still runs, so the page keeps polling its summary.
    assert _summary_live(html) == "true"
    assert 'data-summary-url="/ui/summary"' in html


def test_index_summary_is_the_tables_alone(client: TestClient, ids: Seeded) -> None:
    response = client.get("/ui/summary")
    assert response.status_code == 200
    assert "<html" not in response.text
    assert f'href="/ui/comparisons/{ids.finished}"' in response.text


def test_index_of_an_empty_database_says_so(tmp_path: Path) -> None:
    with Storage(f"sqlite:///{tmp_path / 'empty.db'}") as storage:
        storage.migrate()
        html = TestClient(build_app(storage)).get("/").text
    assert "No comparison yet" in html and "No study yet" in html
    assert _summary_live(html) == "false"


# -- comparison page --------------------------------------------------------------------------------------


def test_comparison_page_shows_progress_figure_curves_and_best_parameters(client: TestClient, ids: Seeded) -> None:
    response = client.get(f"/ui/comparisons/{ids.finished}")
    assert response.status_code == 200
    html = response.text
    for element in ('id="figure8"', 'id="learning-curves"', 'id="flip-ratio"', 'id="study-table"', 'id="target-table"'):
        assert element in html
    assert '<script src="/ui/static/plotly.min.js"></script>' in html
    assert '<script src="/ui/static/pages.js"></script>' in html
    assert len(re.findall(r'<tr class="study-row"', html)) == len(SPACES) * REPLICATES
    assert len(re.findall(r'<tr data-space="', html)) == len(SPACES)
    assert 'id="difference"' in html and "latent &minus; filter" in html
    # Best parameters of a filter study: its last trial is its best.
    assert f"alpha={10.0 ** -(N_TRIALS + 1):.4g}" in html
    assert f"gamma={0.1 * N_TRIALS:.4g}" in html
    total = len(SPACES) * REPLICATES * N_TRIALS
    assert f"{total} / {total}" in html
    assert _summary_live(html) == "false"


def test_comparison_page_inlines_the_same_data_as_its_json_route(client: TestClient, ids: Seeded) -> None:
    html = client.get(f"/ui/comparisons/{ids.finished}").text
    data = client.get(f"/ui/comparisons/{ids.finished}/data").json()
    assert _page_data(html) == data
    assert data["live"] is False
    assert data["comparison"]["analysis"]["target"] == pytest.approx(
        data["comparison"]["analysis"]["best_objective"] - 0.01
    )
    assert set(data["colors"]) == set(SPACES)
    curves = data["curves"]
    assert len(curves) == len(SPACES) * REPLICATES * N_TRIALS
    completed = [row for row in curves if row["state"] == "completed"]
    failed = [row for row in curves if row["state"] == "failed"]
    assert len(failed) == len(SPACES)  # replicate 2's trial 1 of each space
    assert all(row["epoch"] == list(range(1, EPOCHS + 1)) for row in completed)
    assert all(row["epoch"] == [] for row in failed)
    for row in completed:
        assert row["val_accuracy"][-1] == pytest.approx(row["objective"])
        assert row["flip_ratio"][0] == pytest.approx(0.05)
    assert len(data["best"]) == len(SPACES) * REPLICATES
    assert all(best["best_parameters"] is not None for best in data["best"])


def test_comparison_summary_fragment_carries_tables_and_chart_data(client: TestClient, ids: Seeded) -> None:
    response = client.get(f"/ui/comparisons/{ids.finished}/summary")
    assert response.status_code == 200
    assert "<html" not in response.text and 'id="target-table"' in response.text
    assert _page_data(response.text) == client.get(f"/ui/comparisons/{ids.finished}/data").json()


def test_user_text_is_escaped_in_html_and_inline_json(client: TestClient, ids: Seeded) -> None:
    html = client.get(f"/ui/comparisons/{ids.empty}").text
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&amp;task" in html
    # Inside the inline JSON, "</script>" would end the script element early.
    block = html.split('<script id="page-data" type="application/json">')[1].split("</script>")[0]
    assert "<" not in block
    assert _page_data(html)["comparison"]["task"] == HOSTILE_TASK
    assert "<script>alert(1)" not in client.get("/").text


def test_comparison_without_completed_trials_says_so_and_stays_live(client: TestClient, ids: Seeded) -> None:
    html = client.get(f"/ui/comparisons/{ids.empty}").text
    assert "No analysis yet" in html
    assert _summary_live(html) == "true"
    data = _page_data(html)
    assert data["comparison"]["analysis"] is None and data["curves"] == [] and data["live"] is True


# -- study page -------------------------------------------------------------------------------------------


def test_study_page_lists_trials_and_best(client: TestClient, ids: Seeded) -> None:
    response = client.get(f"/ui/studies/{ids.study}")
    assert response.status_code == 200
    html = response.text
    for element in ('id="best-so-far"', 'id="learning-curves"', 'id="flip-ratio"', 'id="trial-table"'):
        assert element in html
    assert re.findall(r'<tr class="trial-row" data-number="(\d+)">', html) == ["0", "1"]
    assert "<strong>70.0%</strong>" in html
    assert _summary_live(html) == "true"
    data = _page_data(html)
    assert data == client.get(f"/ui/studies/{ids.study}/data").json()
    assert data["study"]["best_so_far"] == pytest.approx([0.6, 0.7])
    assert all("points" not in trial for trial in data["study"]["trials"])
    assert [row["val_accuracy"] for row in data["curves"]] == [[0.6], [0.6]]


def test_study_of_a_comparison_links_back(client: TestClient, ids: Seeded) -> None:
    study_id = client.get(f"/ui/comparisons/{ids.finished}/data").json()["comparison"]["studies"][0]["id"]
    html = client.get(f"/ui/studies/{study_id}").text
    assert f'href="/ui/comparisons/{ids.finished}"' in html
    assert len(re.findall(r'<tr class="trial-row"', html)) == N_TRIALS
    assert _summary_live(client.get(f"/ui/studies/{study_id}/summary").text) == "false"


def test_curves_follow_a_running_trial_until_it_ends(tmp_path: Path) -> None:
    with Storage(f"sqlite:///{tmp_path / 'live.db'}") as storage:
        storage.migrate()
        study = storage.create_study(StudyConfig(space="filter", n_trials=3, epochs=2))
        storage.set_study_state(study.id, "running")
        client = TestClient(build_app(storage))
        done = storage.create_trial(study.id, 0, {"alpha": 1e-3, "gamma": 0.1})
        storage.add_points(done.id, 1, {"val_accuracy": 0.5, "flip_ratio": 0.1})
        storage.finish_trial(done.id, "completed", objective=0.5)
        running = storage.create_trial(study.id, 1, {"alpha": 1e-2, "gamma": 0.2})
        storage.add_points(running.id, 1, {"val_accuracy": 0.6, "flip_ratio": 0.2})

        def curves() -> list[dict[str, Any]]:
            rows: list[dict[str, Any]] = _page_data(client.get(f"/ui/studies/{study.id}/summary").text)["curves"]
            return rows

        assert [row["val_accuracy"] for row in curves()] == [[0.5], [0.6]]
        storage.add_points(running.id, 2, {"val_accuracy": 0.7, "flip_ratio": 0.05})
        assert [row["val_accuracy"] for row in curves()] == [[0.5], [0.6, 0.7]]
        storage.finish_trial(running.id, "completed", objective=0.7)
        assert curves()[1] | {"flip_ratio": None} == {
            "study_id": study.id,
            "space": "filter",
            "arm": "filter",
            "replicate": None,
            "number": 1,
            "state": "completed",
            "objective": 0.7,
            "epoch": [1, 2],
            "val_accuracy": [0.6, 0.7],
            "flip_ratio": None,
        }
        # Read again: the ended trials now come from the cache, with the same values.
        assert [row["flip_ratio"] for row in curves()] == [[0.1], [0.2, 0.05]]


# -- unknown ids ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/ui/comparisons/999",
        "/ui/comparisons/999/summary",
        "/ui/comparisons/999/data",
        "/ui/studies/999",
        "/ui/studies/999/summary",
        "/ui/studies/999/data",
        "/comparisons/999/figure.png",
        "/comparisons/999/figure.svg",
    ],
)
def test_unknown_ids_are_404(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert "999" in response.text


@pytest.mark.parametrize(
    "path", ["/ui/comparisons/0", "/ui/studies/-1", "/comparisons/2147483648/figure.svg", "/comparisons/1e3/figure.png"]
)
def test_ids_out_of_range_are_422(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 422


@pytest.mark.parametrize(
    "path", ["/ui/studies/999", "/ui/studies/999/summary", "/ui/comparisons/999", "/ui/comparisons/999/summary"]
)
def test_unknown_page_of_an_html_route_is_html(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>Not found</h1>" in response.text
    assert re.search(r'<p class="error-message">[^<]*999[^<]*</p>', response.text)


@pytest.mark.parametrize("path", ["/ui/studies/999/data", "/ui/comparisons/999/data", "/comparisons/999/figure.png"])
def test_unknown_id_of_a_data_or_figure_route_is_a_json_error(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.headers["content-type"] == "application/json"
    assert "999" in response.json()["detail"]


# -- figures ----------------------------------------------------------------------------------------------


def test_png_figure_decodes(client: TestClient, ids: Seeded) -> None:
    response = client.get(f"/comparisons/{ids.finished}/figure.png")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.content.startswith(PNG_SIGNATURE)
    with Image.open(io.BytesIO(response.content)) as image:
        image.load()
        assert image.format == "PNG"
        assert image.width > 600 and image.height > 400
        # Not a blank canvas: the curves put many colours on it.
        assert len(image.convert("RGB").getcolors(maxcolors=1_000_000) or []) > 50


def test_svg_figure_parses_and_names_what_it_shows(client: TestClient, ids: Seeded) -> None:
    response = client.get(f"/comparisons/{ids.finished}/figure.svg")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(response.content)
    assert root.tag == f"{SVG_NAMESPACE}svg"
    text = " ".join(node.text or "" for node in root.iter(f"{SVG_NAMESPACE}text"))
    assert f"audio: {REPLICATES} replicates x {N_TRIALS} trials per space" in text
    assert "best validation accuracy (last epoch) so far" in text
    assert "trials run" in text
    for space in SPACES:
        assert f"{space}: mean of {REPLICATES} replicates, 95% CI band" in text
        assert f"{space}: trials to target" in text


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_figure_without_completed_trials_is_valid_and_says_so(client: TestClient, ids: Seeded, fmt: str) -> None:
    response = client.get(f"/comparisons/{ids.empty}/figure.{fmt}")
    assert response.status_code == 200
    if fmt == "png":
        with Image.open(io.BytesIO(response.content)) as image:
            image.load()
        return
    root = ET.fromstring(response.content)
    text = " ".join(node.text or "" for node in root.iter(f"{SVG_NAMESPACE}text"))
    assert "No completed trial yet" in text
    assert HOSTILE_TASK in text  # as text: the parser unescaped it, so it was escaped in the file
    assert root.find(f".//{SVG_NAMESPACE}script") is None


def _data(values: Any) -> list[float]:
    return [float(v) for v in np.asarray(values, dtype=np.float64)]


def test_figure_draws_the_analysis_numbers(seeded: tuple[Storage, Seeded]) -> None:
    storage, ids = seeded
    view = comparison_view(storage, ids.finished).model_dump(mode="json")
    ax = figure8(view).axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    for space in view["analysis"]["spaces"]:
        mean_line = lines[f"{space['name']}: mean of {REPLICATES} replicates, 95% CI band"]
        assert _data(mean_line.get_ydata()) == pytest.approx(space["best_so_far_mean"])
        assert _data(mean_line.get_xdata()) == list(range(1, N_TRIALS + 1))
    faint = [line for line in ax.get_lines() if (line.get_gid() or "").startswith("replicate-study-")]
    assert len(faint) == len(SPACES) * REPLICATES
    for study in view["studies"]:
        (line,) = [line for line in faint if line.get_gid() == f"replicate-study-{study['id']}"]
        assert _data(line.get_ydata()) == pytest.approx(
            [math.nan if v is None else v for v in study["best_so_far"]], nan_ok=True
        )
    assert ax.get_xlim()[1] == pytest.approx(N_TRIALS + 1.5)  # some replicate never reached the target


def test_figure_before_every_space_has_a_trial_shows_replicates_and_why_no_mean(
    seeded: tuple[Storage, Seeded],
) -> None:
    storage, ids = seeded
    view = {**comparison_view(storage, ids.finished).model_dump(mode="json"), "analysis": None}
    ax = figure8(view).axes[0]
    assert len(ax.get_lines()) == len(SPACES) * REPLICATES  # the replicates, and no mean or target
    assert any("every search space needs a completed trial" in text.get_text() for text in ax.texts)


def test_render_refuses_other_formats(seeded: tuple[Storage, Seeded]) -> None:
    storage, ids = seeded
    with pytest.raises(InvalidInputError, match="png, svg"):
        render(comparison_view(storage, ids.finished).model_dump(mode="json"), "pdf")


def test_render_is_deterministic(seeded: tuple[Storage, Seeded]) -> None:
    storage, ids = seeded
    view = comparison_view(storage, ids.finished).model_dump(mode="json")
    assert render(view, "svg") == render(view, "svg")


def test_payload_of_unknown_comparison_raises(seeded: tuple[Storage, Seeded]) -> None:
    with pytest.raises(InvalidInputError):
        comparison_payload(seeded[0], 12345)


# -- static files -----------------------------------------------------------------------------------------


def test_static_files_and_plotly_are_served(client: TestClient) -> None:
    script = client.get("/ui/static/pages.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert "Plotly.react" in script.text
    assert client.get("/ui/static/pages.css").status_code == 200
    plotly = client.get("/ui/static/plotly.min.js")
    assert plotly.status_code == 200
    assert len(plotly.content) > 1_000_000
    assert b"plotly.js" in plotly.content[:2000]


@pytest.mark.parametrize("name", ["figures.py", "..%2Ffigures.py", "pages.html", "plotly.js"])
def test_no_other_file_is_served(client: TestClient, name: str) -> None:
    assert client.get(f"/ui/static/{name}").status_code == 404


def test_paired_rows_at_fixed_targets_are_on_the_page(tmp_path: Path) -> None:
    from tests.api.conftest import run_study
    from tuner.settings import Settings
    from tuner.study.config import ComparisonConfig
    from tuner.study.submit import submit_comparison

    with Storage(f"sqlite:///{tmp_path / 'paired.db'}") as storage:
        storage.migrate()
        config = ComparisonConfig(replicates=3, n_trials=4, epochs=2, targets=[0.5, 0.7])
        comparison, studies = submit_comparison(storage, Settings(), config)
        for study in studies:
            assert study.replicate is not None
            step = 0.2 if study.config.space == "filter" else 0.1
            run_study(storage, study, [0.3 + step * t + 0.01 * study.replicate for t in range(4)])
        html = TestClient(build_app(storage)).get(f"/ui/comparisons/{comparison.id}").text
        rows = re.findall(r'<tr data-arms="latent-filter">', html)
        assert len(rows) == 2  # one per target
        data = _page_data(html)["comparison"]["analysis"]["paired"]
        assert [(r["target"], r["n_pairs"]) for r in data] == [(0.5, 3), (0.7, 3)]
        # Filter reaches 0.7 at its 3rd trial (0.3 + 2 * 0.2), latent at its 5th = never (4 trials + 1): +2 trials.
        assert data[1]["mean"] == pytest.approx(2.0) and data[1]["p_holm"] >= data[1]["p"]
        # Across: latent's best after 3 trials is 0.5 + 0.01 r; filter reaches that at its 2nd trial: 2 - 3 = -1.
        across = _page_data(html)["comparison"]["analysis"]["horizontal"]
        assert [(r["arm_b"], r["k"], r["mean"]) for r in across] == [("filter", 3, pytest.approx(-1.0))]
        assert 'id="horizontal-table"' in html
