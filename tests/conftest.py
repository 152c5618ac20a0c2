"""Session-wide fixtures: one local Ray instance shared by every test that needs it (starting Ray costs seconds)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A real local Ray instance (2 CPUs, no token auth, its files under the test's temp dir)."""
    import ray

    tmp = Path(tmp_path_factory.mktemp("ray"))
    os.environ["RAY_AUTH_MODE"] = "disabled"
    os.environ["RAY_TMPDIR"] = str(tmp)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _temp_dir=str(tmp))
    try:
        yield
    finally:
        ray.shutdown()
