"""What the experiment scripts' tests share: loading a script as a module, and reading the CSV files it wrote."""

from __future__ import annotations

import csv
import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

REPOSITORY = Path(__file__).resolve().parents[2]
EXPERIMENTS = REPOSITORY / "experiments"


def load_script(name: str) -> Any:
    """``experiments/<name>.py`` as a fresh module named ``experiment_<name>``, run as ``python experiments/...``
    runs it: with ``experiments/`` on ``sys.path``, for the scripts' ``import _runs``."""
    # experiments/ is a folder of scripts, not a package; the unique name keeps a script clear of any module of its
    # own name (cifar10, figure8...).
    if str(EXPERIMENTS) not in sys.path:
        sys.path.insert(0, str(EXPERIMENTS))
    spec = importlib.util.spec_from_file_location(f"experiment_{name}", EXPERIMENTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


def csv_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV file with a header line, as dicts of strings."""
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def run_script(name: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``python experiments/<name>.py ARGS`` from the repository root, as a user would; fail the test with the
    end of its stderr unless it exits 0."""
    done = subprocess.run(
        [sys.executable, str(EXPERIMENTS / f"{name}.py"), *args],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done
