"""The results pages in headless Chromium, served by a real uvicorn server on a free port.

Needs the Debian ``chromium`` package at /usr/bin/chromium (Playwright drives it; no browser is downloaded).
Screenshots go to the test's ``tmp_path`` and, if ``BNN_TUNE_TEST_ARTIFACTS`` names a folder, a copy there.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, sync_playwright

from tests.api.conftest_pages import EPOCHS, N_TRIALS, REPLICATES, SPACES, Seeded, build_app, seed
from tuner.storage import Storage

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS_VARIABLE = "BNN_TUNE_TEST_ARTIFACTS"
# Long enough for one poll of the page (4 s) on a busy machine.
LIVE_TIMEOUT_MS = 15_000


@pytest.fixture(autouse=True)
def require_chromium() -> None:
    """The browser test is part of the suite: a machine without Chromium fails it rather than skipping it."""
    if not CHROMIUM.exists():
        pytest.fail("needs Debian chromium at /usr/bin/chromium (apt-get install -y chromium; make test does it)")


class _Server:
    """uvicorn serving an app in a thread, on a socket bound here so that no other process can take the port."""

    def __init__(self, storage: Storage) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        config = uvicorn.Config(build_app(storage), log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True)

    def __enter__(self) -> _Server:
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Storage, Seeded]]:
    storage, ids = seed(tmp_path_factory.mktemp("browser") / "bnn-tune.db")
    with storage:
        yield storage, ids


@pytest.fixture(scope="module")
def ids(seeded: tuple[Storage, Seeded]) -> Seeded:
    return seeded[1]


@pytest.fixture(scope="module")
def server(seeded: tuple[Storage, Seeded]) -> Iterator[_Server]:
    with _Server(seeded[0]) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    try:
        yield opened
        assert errors == [], f"the page reported errors: {errors}"
    finally:
        context.close()


def _screenshot(page: Page, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)
    artifacts = os.environ.get(ARTIFACTS_VARIABLE)
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(artifacts) / name)
    return path


def _trace_names(page: Page, chart: str) -> list[str]:
    names: list[str] = page.evaluate("(id) => document.getElementById(id).data.map((trace) => trace.name || '')", chart)
    return names


def test_comparison_page_draws_figure8_and_curves(page: Page, server: _Server, ids: Seeded, tmp_path: Path) -> None:
    page.goto(server.url + "/")
    page.click(f'a[href="/ui/comparisons/{ids.finished}"]')
    page.wait_for_selector("#figure8 .main-svg")
    page.wait_for_selector("#learning-curves .main-svg")
    page.wait_for_selector("#flip-ratio .main-svg")

    names = _trace_names(page, "figure8")
    for space in SPACES:
        assert f"{space}: replicates" in names
        assert f"{space}: mean of {REPLICATES}" in names
        assert any(name.startswith(f"{space}: trials to target") for name in names)
    # Every replicate's points and every mean were drawn as SVG paths, not just handed to plotly.
    assert page.locator("#figure8 .scatterlayer .trace").count() == len(names)
    assert page.locator("#figure8 .scatterlayer .trace .point").count() >= len(SPACES) * REPLICATES * N_TRIALS
    assert "Figure 8, audio" in (page.text_content("#figure8 .gtitle") or "")

    curve_names = _trace_names(page, "learning-curves")
    assert [name for name in curve_names if name.endswith("every trial")] == [f"{s}: every trial" for s in SPACES]
    assert sum("best trial" in name for name in curve_names) == len(SPACES)
    epochs_drawn = page.evaluate("() => document.getElementById('learning-curves').data[1].x.length")
    assert epochs_drawn == EPOCHS
    assert page.evaluate("() => document.getElementById('flip-ratio').layout.yaxis.type") == "log"

    assert page.locator("#study-table tr.study-row").count() == len(SPACES) * REPLICATES
    assert page.inner_text("#live-status") == ""  # finished: no polling
    shot = _screenshot(page, tmp_path, "comparison.png")
    assert shot.stat().st_size > 50_000


def test_study_page_updates_while_the_study_runs(
    page: Page, server: _Server, seeded: tuple[Storage, Seeded], tmp_path: Path
) -> None:
    storage, ids = seeded
    page.goto(f"{server.url}/ui/studies/{ids.study}")
    page.wait_for_selector("#learning-curves .main-svg")
    assert len(_trace_names(page, "learning-curves")) == 2
    assert "live" in page.inner_text("#live-status")

    trial = storage.create_trial(ids.study, 2, {"alpha": 2e-3, "gamma": 0.2})
    storage.add_points(trial.id, 1, {"val_accuracy": 0.8, "flip_ratio": 0.02})
    storage.finish_trial(trial.id, "completed", objective=0.8)

    page.wait_for_selector('#trial-table tr.trial-row[data-number="2"]', timeout=LIVE_TIMEOUT_MS)
    page.wait_for_function(
        "() => document.getElementById('learning-curves').data.length === 3", timeout=LIVE_TIMEOUT_MS
    )
    assert "80.0%" in page.inner_text("#best")
    assert _trace_names(page, "learning-curves")[2] == "trial #2 (best)"
    _screenshot(page, tmp_path, "study-live.png")

    storage.set_study_state(ids.study, "cancelled")
    page.wait_for_function(
        "() => document.getElementById('live-status').textContent.startsWith('finished')", timeout=LIVE_TIMEOUT_MS
    )
