"""The house rules of docs/ARCHITECTURE.md, checked on the source: imports point down, heavy libraries stay in their
one module, modules stay small."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Each package, bottom up, with the packages of ours it may import (itself always).
MAY_IMPORT = {
    "bnn_errors": set(),
    "search_spaces": set(),
    "trainers": {"bnn_errors", "search_spaces"},
    "tuner": {"bnn_errors", "search_spaces", "trainers"},
    "api": {"bnn_errors", "search_spaces", "trainers", "tuner"},
    "bnn_tune": {"bnn_errors", "search_spaces", "trainers", "tuner", "api"},
}
# Third-party libraries that one module owns.
OWNERS = {
    "ax": {"tuner/bo/ax_adapter.py", "tuner/bo/ax_parameters.py"},
    "botorch": {"tuner/bo/ax_adapter.py", "tuner/bo/lean.py", "tuner/bo/suggestions.py"},
    "gpytorch": {"tuner/bo/lean.py"},
    "ray": {"tuner/execution/ray_executor.py"},
}


def _modules(package: str) -> Iterator[Path]:
    yield from sorted((ROOT / package).rglob("*.py"))


def _imports(path: Path) -> Iterator[str]:
    """Every module ``path`` imports, at the top or inside a function (lazy imports count too)."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


@pytest.mark.parametrize("package", list(MAY_IMPORT))
def test_imports_point_down(package: str) -> None:
    allowed = MAY_IMPORT[package] | {package}
    upward = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _modules(package)
        for name in _imports(path)
        if name.split(".")[0] in MAY_IMPORT and name.split(".")[0] not in allowed
    ]
    assert upward == []


@pytest.mark.parametrize("library", list(OWNERS))
def test_a_heavy_library_is_imported_in_its_one_module(library: str) -> None:
    importers = {
        str(path.relative_to(ROOT))
        for package in MAY_IMPORT
        for path in _modules(package)
        if any(name.split(".")[0] == library for name in _imports(path))
    }
    assert importers <= OWNERS[library]


def test_request_schemas_load_without_torch() -> None:
    code = "import sys, api.schemas, tuner; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_no_module_over_500_lines() -> None:
    long = {
        str(path.relative_to(ROOT)): n
        for package in ("api", "tuner", "trainers")
        for path in _modules(package)
        if (n := len(path.read_text().splitlines())) > 500
    }
    assert long == {}
