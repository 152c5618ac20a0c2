"""Session-wide fixtures: one local Ray instance (starting Ray costs seconds) and one PostgreSQL database.

PostgreSQL: one database ``bnn_tune_test_<hex>`` per session on 127.0.0.1:5432 (user postgres, trust auth), emptied
after every test that uses it and dropped at the end. A missing server fails the tests that need it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests._postgres import fresh_database


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a fresh PostgreSQL database for this test session."""
    with fresh_database("bnn_tune_test") as url:
        yield url


def _empty_postgres(url: str) -> None:
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as connection:
        # Fail rather than hang if a test left a transaction open on the tables.
        connection.execute("SET lock_timeout = '10s'")
        connection.execute("DROP SCHEMA public CASCADE")
        connection.execute("CREATE SCHEMA public")


@pytest.fixture(params=["sqlite", "postgresql"])
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of an empty database: a SQLite file in ``tmp_path``, or the session's PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bnn-tune.db'}"
        return
    url: str = request.getfixturevalue("postgres_url")
    try:
        yield url
    finally:
        _empty_postgres(url)


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
