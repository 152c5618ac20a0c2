"""A real two-node Ray cluster on this machine, PostgreSQL, and the API and scheduler as separate processes.

The cluster layout of ``docker-compose.yml`` without Docker: a Ray head and a second Ray node (each ``ray start
--block`` in its own process group, one CPU each, the second marked by a custom resource), a fresh PostgreSQL
database, ``bnn-tune serve --no-scheduler`` and ``bnn-tune scheduler``. A comparison submitted over REST completes
with trials on both nodes and every curve point in PostgreSQL; killing the second node while one of its trials runs
loses no trial. Trials reach the second node by capacity: each trial reserves one CPU, so with two in flight Ray must
place one on each node (the executor's ``resources_per_trial`` is not a setting, so the custom resource cannot
steer them from outside).

Every Ray process is ended by its process group and pid (never ``ray stop``, which would end every Ray instance on
the machine, other test sessions' included).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
import pytest

from tests._postgres import fresh_database

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
BIN = Path(sys.executable).parent
SPACES = ["latent", "filter"]
QUICK = {"task": "audio", "max_train": 200, "seed": 0, "batch_size": 64}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _environment(extra: Mapping[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    # Ray's workers import the trial code: they must see this checkout, whatever the environment has installed.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["RAY_AUTH_MODE"] = "disabled"
    if SHARED_DATA.exists():
        env["BNN_TUNE_DATA"] = str(SHARED_DATA)
    for name in ("RAY_ADDRESS", "BNN_TUNE_RAY_ADDRESS", "BNN_TUNE_API_TOKEN"):
        env.pop(name, None)
    env.update(extra)
    return env


@dataclass
class _Process:
    """A process this test started, in its own process group, with its log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def tail(self) -> str:
        return f"--- {self.name} ---\n{self.log.read_text(errors='replace')[-3000:]}"

    def kill_group(self) -> None:
        """SIGKILL the process, its process group and every descendant (Ray's raylet, agents and workers)."""
        try:
            family = [psutil.Process(self.popen.pid), *psutil.Process(self.popen.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            family = []
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        for process in family:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        self.popen.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM (the services stop cleanly on it), then SIGKILL whatever is left of the group."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=30)
        self.kill_group()


def _start(name: str, args: list[str], env: dict[str, str], logs: Path) -> _Process:
    log = logs / f"{name}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(args, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    return _Process(name, popen, log)


def _alive_nodes(address: str, env: dict[str, str]) -> int:
    """How many nodes ``ray status`` lists as active."""
    result = subprocess.run(
        [str(BIN / "ray"), "status", "--address", address], env=env, capture_output=True, text=True, timeout=60
    )
    lines = result.stdout.splitlines()
    if "Active:" not in [line.strip() for line in lines]:
        return 0
    start = [line.strip() for line in lines].index("Active:") + 1
    count = 0
    for line in lines[start:]:
        if " node_" not in line:
            break
        count += 1
    return count


def _wait_for(what: str, check: Any, timeout: float, processes: list[_Process], every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in processes:
            if process.popen.poll() is not None:
                pytest.fail(f"{process.name} exited with {process.popen.returncode}:\n{process.tail()}")
        value = check()
        if value:
            return value
        time.sleep(every)
    pytest.fail(f"{what} not within {timeout:.0f} s:\n" + "\n".join(p.tail() for p in processes))


@dataclass
class Cluster:
    """The running cluster: the API's URL, the database and the processes."""

    url: str
    database_url: str
    head: _Process
    second_node: _Process
    services: list[_Process]

    @property
    def processes(self) -> list[_Process]:
        return [self.head, self.second_node, *self.services]


@pytest.fixture(scope="module")
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database (SQLAlchemy URL) for this module, dropped at the end."""
    with fresh_database("bnn_tune_cluster") as url:
        yield url


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, postgres_database: str) -> Iterator[Cluster]:
    """Ray head + second node, then the API (no scheduler) and the scheduler, all as separate processes."""
    root = tmp_path_factory.mktemp("cluster")
    ray_port, api_port = _free_port(), _free_port()
    address = f"127.0.0.1:{ray_port}"
    ray_env = _environment({"RAY_TMPDIR": str(root)})
    common = ["--block", "--node-ip-address", "127.0.0.1", "--num-cpus", "1", "--disable-usage-stats"]
    started: list[_Process] = []
    try:
        head_args = [
            *common,
            "--head",
            "--port",
            str(ray_port),
            "--include-dashboard=false",
            # Fixed default ports would clash with any other Ray instance on the machine.
            "--dashboard-port",
            str(_free_port()),
            "--dashboard-agent-listen-port",
            str(_free_port()),
            "--temp-dir",
            str(root),
        ]
        head = _start("ray-head", [str(BIN / "ray"), "start", *head_args], ray_env, root)
        started.append(head)
        _wait_for("the Ray head", lambda: _alive_nodes(address, ray_env) == 1, 120, started, every=2)
        node_args = [
            *common,
            "--address",
            address,
            "--resources",
            '{"second_node": 1}',
            "--dashboard-agent-listen-port",
            str(_free_port()),
        ]
        second = _start("ray-node-2", [str(BIN / "ray"), "start", *node_args], ray_env, root)
        started.append(second)
        _wait_for("the second Ray node", lambda: _alive_nodes(address, ray_env) == 2, 120, started, every=2)

        service_env = _environment(
            {
                "RAY_TMPDIR": str(root),
                "BNN_TUNE_DATABASE_URL": postgres_database,
                "BNN_TUNE_RAY_ADDRESS": address,
                "BNN_TUNE_SCHEDULER_POLL_SECONDS": "0.2",
                "BNN_TUNE_MAX_TRIAL_RETRIES": "2",
            }
        )
        cli = str(BIN / "bnn-tune")
        api = _start("api", [cli, "serve", "--no-scheduler", "--port", str(api_port)], service_env, root)
        started.append(api)
        scheduler = _start("scheduler", [cli, "scheduler"], service_env, root)
        started.append(scheduler)
        url = f"http://127.0.0.1:{api_port}"

        def api_up() -> bool:
            try:
                return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        _wait_for("the API", api_up, 120, started)
        _wait_for("the scheduler", lambda: "scheduler running" in scheduler.log.read_text(), 120, started)
        yield Cluster(url, postgres_database, head, second, [api, scheduler])
    finally:
        for process in reversed(started):
            process.stop()


def _wait_done(client: httpx.Client, path: str, processes: list[_Process], timeout: float) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        view: dict[str, Any] = client.get(path).json()
        return None if view["state"] in ("queued", "running") else view

    result: dict[str, Any] = _wait_for(path, done, timeout, processes)
    return result


def _stored_points(database_url: str, trial_id: int) -> dict[int, dict[str, float]]:
    """The trial's curve as PostgreSQL holds it: epoch -> metric -> value."""
    with psycopg.connect(database_url.replace("+psycopg", "")) as connection:
        rows = connection.execute(
            "SELECT epoch, metric, value FROM curve_points WHERE trial_id = %s", (trial_id,)
        ).fetchall()
    points: dict[int, dict[str, float]] = {}
    for epoch, metric, value in rows:
        points.setdefault(epoch, {})[metric] = value
    return points


def _check_curve(client: httpx.Client, cluster: Cluster, study_id: int, trial: dict[str, Any], epochs: int) -> None:
    curve = client.get(f"/studies/{study_id}/trials/{trial['number']}/curve").json()
    assert [point["epoch"] for point in curve["points"]] == list(range(1, epochs + 1))
    stored = _stored_points(cluster.database_url, trial["id"])
    assert sorted(stored) == list(range(1, epochs + 1))
    for point in curve["points"]:
        for metric, value in point.items():
            if metric != "epoch":
                assert stored[point["epoch"]][metric] == pytest.approx(value), (trial["id"], metric)


def test_comparison_over_rest_runs_on_both_nodes_and_stores_every_point_in_postgres(cluster: Cluster) -> None:
    epochs = 2
    request = {**QUICK, "spaces": SPACES, "replicates": 1, "n_trials": 3, "epochs": epochs, "parallelism": 2}
    with httpx.Client(base_url=cluster.url, timeout=30) as client:
        response = client.post("/comparisons", json=request)
        assert response.status_code == 201, response.text
        comparison = _wait_done(client, f"/comparisons/{response.json()['id']}", cluster.processes, 240)
        assert comparison["state"] == "completed", comparison
        assert comparison["trials_done"] == comparison["trials_total"] == 2 * 3

        node_ids: set[str] = set()
        for summary in comparison["studies"]:
            study = client.get(f"/studies/{summary['id']}").json()
            assert [t["state"] for t in study["trials"]] == ["completed"] * 3, study
            for trial in study["trials"]:
                assert trial["node_id"] and trial["worker_host"]
                node_ids.add(trial["node_id"])
                _check_curve(client, cluster, study["id"], trial, epochs)
    # Two trials in flight need both nodes' single CPU: the second node took trials too.
    assert len(node_ids) == 2, node_ids


def test_losing_the_second_node_mid_run_loses_no_trial(cluster: Cluster) -> None:
    # Long enough (about 0.15 s an epoch on 2 cores) that the second node dies well before its trial would end.
    epochs = 60
    request = {**QUICK, "space": "filter", "n_trials": 2, "epochs": epochs, "parallelism": 2, "max_train": 2000}
    with httpx.Client(base_url=cluster.url, timeout=30) as client:
        response = client.post("/studies", json=request)
        assert response.status_code == 201, response.text
        study_id = response.json()["id"]

        def both_training() -> bool:
            # With one CPU per node, the two trials in flight run one on each node; a point means it trains.
            trials = client.get(f"/studies/{study_id}/trials", params={"points": True}).json()
            return len(trials) == 2 and all(
                t["state"] == "running" and 0 < len(t["points"]) <= epochs - 10 for t in trials
            )

        _wait_for("both trials training", both_training, 180, cluster.processes, every=0.1)
        cluster.second_node.kill_group()
        study = _wait_done(client, f"/studies/{study_id}", [cluster.head, *cluster.services], 240)

        assert study["state"] == "completed", study
        trials = study["trials"]
        assert [t["state"] for t in trials] == ["completed", "completed"], trials
        assert max(t["attempts"] for t in trials) >= 2, trials
        # After the loss only the head was left, so every final attempt ran there.
        assert len({t["node_id"] for t in trials}) == 1, trials
        for trial in trials:
            _check_curve(client, cluster, study_id, trial, epochs)
