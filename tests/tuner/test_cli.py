"""The ``bnn-tune`` command line, run as a real process where the console script matters."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tuner.cli import main


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
    assert main(["train", "--alpha", "1e-3", "--gamma", "0.1", "--epochs", "2", "--max-train", "300"]) == 0
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
    ],
)
def test_bad_input_exits_2_with_a_named_error(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", *args, "--json"]) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert message in json.loads(captured.out.strip().splitlines()[-1])["error"]
