"""The ``bnn-tune`` command line, run as a real process where the console script matters."""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from bnn_tune.cli import main


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the installed console script of this environment."""
    exe = Path(sys.executable).with_name("bnn-tune")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=300, check=False)


def test_train_reaches_ninety_percent_on_fsdd() -> None:
    """The README's command: 20 epochs of the filter optimizer on the real FSDD recordings."""
    proc = run_cli(
        "train", "--task", "audio", "--optimizer", "filter", "--alpha", "1e-3", "--gamma", "0.1",
        "--epochs", "20", "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(result["points"]) == 20
    assert result["test_accuracy"] >= 0.90, result["test_accuracy"]
    assert 0.0 <= result["val_accuracy"] <= 1.0
    assert "val acc" in proc.stderr  # the per-epoch table goes to stderr under --json


def test_train_prints_the_table_without_json(capsys: pytest.CaptureFixture[str]) -> None:
    threads = torch.get_num_threads()
    try:
        args = ["--alpha", "1e-3", "--gamma", "0.1", "--epochs", "2", "--max-train", "300", "--threads", "1"]
        assert main(["train", *args]) == 0
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    assert "flip ratio" in out
    assert out.count("\n") >= 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--optimizer", "filter", "--alpha", "1e-3", "--gamma", "0.1", "--lr", "0.1"], "--lr"),
        (["--optimizer", "latent", "--lr", "0.1"], "--momentum"),
        (["--optimizer", "sgd"], "sgd"),
        (["--alpha", "2", "--gamma", "0.1"], "alpha"),
        (["--alpha", "1e-3", "--gamma", "0.1", "--task", "mnist"], "mnist"),
        (["--alpha", "1e-3", "--gamma", "0.1", "--epochs", "0"], "epochs"),
        (["--alpha", "1e-3", "--gamma", "0.1", "--threads", "0"], "--threads"),
        (["--alpha", "1e-3", "--gamma", "0.1", "--data-dir", "/nonexistent/data"], "/nonexistent/data"),
    ],
)
def test_bad_input_exits_2_with_a_named_error(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", *args, "--json"]) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert message in json.loads(captured.out.strip().splitlines()[-1])["error"]


def test_version_is_the_installed_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib import metadata

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"bnn-tune {metadata.version('bnn-tune')}"


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh SQLite file as the configured database, the settings re-read around the test."""
    from tuner.settings import get_settings

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("BNN_TUNE_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def last_json(out: str) -> dict[str, Any]:
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.parametrize("command", [["study", "show", "1"], ["compare", "show", "1"]])
def test_showing_creates_no_database(database: str, command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    path = Path(database.removeprefix("sqlite:///"))
    assert main(command) == 2
    assert not path.exists()
    error = capsys.readouterr().err
    assert f"no database at {path}" in error and error.count("\n") == 1  # one line, however long


QUICK_STUDY = ["--trials", "2", "--epochs", "1", "--max-train", "200", "--executor", "inline", "--json"]


def test_study_run_and_show_print_the_study_as_json(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["study", "run", "--task", "audio", "--space", "filter", "--seed", "3", *QUICK_STUDY]) == 0
    captured = capsys.readouterr()
    study = last_json(captured.out)
    # Not a terminal: one plain progress line per finished trial, on stderr beside --json.
    assert [line.split(",")[0] for line in captured.err.splitlines() if " trials, best " in line][-2:] == [
        f"study {study['id']}: 1/2 trials",
        f"study {study['id']}: 2/2 trials",
    ]
    assert study["state"] == "completed" and study["space"] == "filter" and study["seed"] == 3
    assert [t["number"] for t in study["trials"]] == [0, 1]
    for trial in study["trials"]:
        assert trial["state"] == "completed" and set(trial["parameters"]) == {"alpha", "gamma"}
        assert trial["objective"] == trial["points"][-1]["val_accuracy"]
    assert main(["study", "show", str(study["id"]), "--json"]) == 0
    assert last_json(capsys.readouterr().out)["trials"] == study["trials"]


def test_compare_runs_replicates_of_each_space(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["compare", "--spaces", "latent,filter", "--replicates", "2", *QUICK_STUDY]
    assert main(args) == 0
    comparison = last_json(capsys.readouterr().out)
    assert comparison["state"] == "completed" and comparison["trials_done"] == comparison["trials_total"] == 8
    assert {s["space"] for s in comparison["studies"]} == {"latent", "filter"}
    analysis = comparison["analysis"]
    assert [s["name"] for s in analysis["spaces"]] == ["latent", "filter"]
    assert analysis["difference"]["space_a"] == "latent"
    assert main(["compare", "show", str(comparison["id"]), "--json"]) == 0
    assert last_json(capsys.readouterr().out)["analysis"] == analysis


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["study", "run", "--space", "adam"], "space"),
        (["study", "run", "--trials", "0"], "n_trials"),
        (["study", "run", "--parallelism", "0"], "parallelism"),
        (["study", "run", "--task", "mnist"], "task"),
        (["study", "run", "--early-stopping", "mean"], "early_stopping.rule"),
        (["compare", "--spaces", "latent,latent"], "spaces"),
        (["compare", "--replicates", "0"], "replicates"),
        (["compare", "--suggestion-workers", "-1"], "--suggestion-workers must be >= 0"),
        (["study", "show", "999"], "no database at"),  # nothing was ever run with this database
    ],
)
def test_bad_tuning_input_writes_nothing(
    database: str, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from tuner.storage import Storage

    assert main([*args, "--executor", "inline", "--json"] if args[-1] != "999" else [*args, "--json"]) == 2
    assert message in last_json(capsys.readouterr().out)["error"]
    storage = Storage(database)
    storage.migrate()
    assert storage.count_studies() == 0 and storage.count_comparisons() == 0


def test_unreachable_database_names_the_setting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tuner.settings import get_settings

    monkeypatch.setenv("BNN_TUNE_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    get_settings.cache_clear()
    try:
        assert main(["study", "run", *QUICK_STUDY]) == 2
    finally:
        get_settings.cache_clear()
    assert "BNN_TUNE_DATABASE_URL" in last_json(capsys.readouterr().out)["error"]


def test_silent_ray_address_fails_fast_and_writes_nothing(
    database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tuner.settings import get_settings
    from tuner.storage import Storage

    monkeypatch.setenv("BNN_TUNE_RAY_ADDRESS", "127.0.0.1:1")
    get_settings.cache_clear()
    args = ["study", "run", "--trials", "2", "--epochs", "1", "--executor", "ray", "--json"]
    assert main(args) == 2
    error = last_json(capsys.readouterr().out)["error"]
    assert "RAY_ADDRESS" in error and "127.0.0.1:1" in error
    assert Storage(database).count_studies() == 0


def test_train_members_prints_the_objective_and_its_standard_error(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["train", "--folds", "2", "--repeats", "2", "--epochs", "1", "--alpha", "1e-3", "--gamma", "0.1"]
    assert main([*args, "--max-train", "300", "--threads", "1", "--json"]) == 0
    result = last_json(capsys.readouterr().out)
    members = result["members"]
    assert [(m["fold"], m["member"]) for m in members] == [(0, 0), (0, 1), (1, 2), (1, 3)]
    values = [m["objective"] for m in members]
    assert result["objective"] == pytest.approx(sum(values) / 4)
    assert result["objective_sem"] == pytest.approx(statistics.stdev(values) / 2)


def test_ctrl_c_leaves_the_study_resumable_and_resume_finishes_it(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from tuner.storage import Storage

    exe = Path(sys.executable).with_name("bnn-tune")
    command = ["study", "run", "--task", "audio", "--space", "filter", "--trials", "6", "--epochs", "2"]
    process = subprocess.Popen(
        [str(exe), *command, "--max-train", "200", "--executor", "inline", "--seed", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "BNN_TUNE_DATABASE_URL": database},
    )
    assert process.stdout is not None
    seen = []
    for line in process.stdout:  # one plain progress line per finished trial: interrupt after the first
        seen.append(line)
        if "1/6 trials" in line:
            break
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=120)
    err = "".join(seen) + rest
    assert process.returncode == 130, err
    assert "go on with: bnn-tune study resume 1" in err and "Traceback" not in err
    storage = Storage(database)
    study = storage.get_study(1)
    assert study.state == "running"
    assert 1 <= sum(t.state == "completed" for t in storage.trials(1)) < 6
    storage.close()

    assert main(["study", "resume", "1", "--executor", "inline", "--json"]) == 0
    resumed = last_json(capsys.readouterr().out)
    assert resumed["state"] == "completed"
    assert sum(t["state"] == "completed" for t in resumed["trials"]) == 6
    assert main(["study", "resume", "1"]) == 2
    assert "nothing to resume" in capsys.readouterr().err
