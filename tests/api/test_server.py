"""Real servers: ``bnn-tune serve`` (and, in cluster mode, ``bnn-tune scheduler``) as processes on free ports.

The embedded service runs a 3-trial x 1-epoch study on the real FSDD recordings to completion through the REST
API; cluster mode runs a 1-trial study with the API and the scheduler in two processes on one database. Each
process is then stopped with a signal and must exit cleanly, with its JSON line.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
TOKEN = "token-for-the-live-test"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
QUICK_STUDY = {"task": "audio", "space": "filter", "epochs": 1, "max_train": 300, "seed": 0}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _environment(database: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "BNN_TUNE_DATABASE_URL": f"sqlite:///{database}",
            "BNN_TUNE_API_TOKEN": TOKEN,
            "BNN_TUNE_SCHEDULER_POLL_SECONDS": "0.1",
            # The checkout's own code, whatever the environment has installed.
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
        }
    )
    if SHARED_DATA.exists():
        env["BNN_TUNE_DATA"] = str(SHARED_DATA)
    return env


def _start(args: Sequence[str], env: dict[str, str], log: Path) -> subprocess.Popen[str]:
    """Start ``bnn-tune <args> --json``; its log (stderr) goes to a file, which no full pipe can block."""
    exe = Path(sys.executable).with_name("bnn-tune")
    with log.open("w") as stderr:
        return subprocess.Popen(
            [str(exe), *args, "--json"], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True
        )


def _stop(process: subprocess.Popen[str], how: signal.Signals, log: Path) -> tuple[int, str, str]:
    """Send ``how``, wait for the exit, and return the exit status, stdout and the log."""
    if process.poll() is None:
        process.send_signal(how)
    try:
        out, _ = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
        pytest.fail(f"no exit within 60 s of {how.name}:\n{log.read_text()[-3000:]}")
    return process.returncode, out, log.read_text()


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    """The processes a test starts; any still running at the end are killed."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate()


def _wait_until_up(url: str, process: subprocess.Popen[str], log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"{url} did not answer within {timeout} s")


def _run_study_through_the_api(url: str, n_trials: int, timeout: float = 180) -> dict[str, Any]:
    """Submit a quick study of ``n_trials``, poll it to the end, check it, and return its final view."""
    study = {**QUICK_STUDY, "n_trials": n_trials}
    with httpx.Client(base_url=url, timeout=10) as client:
        assert client.post("/studies", json=study).status_code == 401  # no token
        response = client.post("/studies", json=study, headers=AUTH)
        assert response.status_code == 201, response.text
        study_id = response.json()["id"]
        deadline = time.monotonic() + timeout
        view = client.get(f"/studies/{study_id}").json()
        while view["state"] in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.5)
            view = client.get(f"/studies/{study_id}").json()
        assert view["state"] == "completed", view
        assert view["trials_done"] == n_trials

        for trial in view["trials"]:
            assert trial["state"] == "completed"
            assert 0.0 <= trial["objective"] <= 1.0
            assert set(trial["parameters"]) == {"alpha", "gamma"}
            curve = client.get(f"/studies/{study_id}/trials/{trial['number']}/curve").json()
            assert [p["epoch"] for p in curve["points"]] == [1]
            point = curve["points"][0]
            assert point["val_accuracy"] == pytest.approx(trial["objective"])
            assert 0.0 <= point["flip_ratio"] <= 1.0
            assert point["train_loss"] > 0
        rows = list(csv.DictReader(io.StringIO(client.get(f"/studies/{study_id}/export.csv").text)))
        assert [row["trial"] for row in rows] == [str(n) for n in range(n_trials)]
        return dict(view)


def _last_json(out: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def test_embedded_service_runs_a_study_on_fsdd_and_stops_on_sigint(
    tmp_path: Path, processes: list[subprocess.Popen[str]]
) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    args = ["serve", "--port", str(port), "--executor", "inline"]
    server = _start(args, _environment(tmp_path / "bnn-tune.db"), log)
    processes.append(server)
    _wait_until_up(url, server, log)

    view = _run_study_through_the_api(url, n_trials=3)
    assert view["best_objective"] == max(t["objective"] for t in view["trials"])
    readiness = httpx.get(f"{url}/readyz").json()
    assert readiness == {"status": "ready", "database": "ok", "scheduler": "ok", "executor": "inline"}

    status, out, err = _stop(server, signal.SIGINT, log)
    assert status == 0, err[-3000:]
    assert _last_json(out) == {"url": url, "scheduler": True, "stopped": True, "signal": "SIGINT"}
    assert "Traceback" not in err


def test_cluster_mode_api_and_scheduler_in_two_processes(
    tmp_path: Path, processes: list[subprocess.Popen[str]]
) -> None:
    env = _environment(tmp_path / "bnn-tune.db")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    api_log, scheduler_log = tmp_path / "serve.log", tmp_path / "scheduler.log"
    api = _start(["serve", "--port", str(port), "--no-scheduler"], env, api_log)
    scheduler = _start(["scheduler", "--executor", "inline"], env, scheduler_log)
    processes.extend([api, scheduler])
    _wait_until_up(url, api, api_log)
    assert httpx.get(f"{url}/readyz").json()["scheduler"] == "off"

    _run_study_through_the_api(url, n_trials=1)

    status, out, err = _stop(scheduler, signal.SIGTERM, scheduler_log)
    assert status == 0, err[-3000:]
    assert _last_json(out)["signal"] == "SIGTERM"
    status, out, err = _stop(api, signal.SIGTERM, api_log)
    assert status == 0, err[-3000:]
    assert _last_json(out) == {"url": url, "scheduler": False, "stopped": True, "signal": "SIGTERM"}
