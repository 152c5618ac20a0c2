"""README's Python example runs as written, from a clean folder, on the real FSDD recordings."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from trainers.data import find_data_root

README = Path(__file__).resolve().parents[2] / "README.md"


def _python_api_block() -> str:
    section = README.read_text().split("## Python API", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert match is not None, "README's Python API section has no python block"
    return match.group(1)


def test_python_api_example_runs_as_written(tmp_path: Path) -> None:
    env = {**os.environ, "BNN_TUNE_DATA": str(find_data_root(marker="fsdd/recordings"))}
    env.pop("BNN_TUNE_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", _python_api_block()],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert [line.split(":")[0] for line in lines[:2]] == ["latent", "filter"]
    assert lines[-1] == "16 of 16 trials, stored in quickstart.db"
    assert (tmp_path / "quickstart.db").exists()
