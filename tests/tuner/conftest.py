"""Storage fixtures: every storage test runs on a SQLite file and on a PostgreSQL database (``storage_url``,
from the root conftest)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tuner.storage import Storage


@pytest.fixture
def empty_storage(storage_url: str) -> Iterator[Storage]:
    """A storage on an empty, never migrated database."""
    with Storage(storage_url) as storage:
        yield storage


@pytest.fixture
def storage(empty_storage: Storage) -> Storage:
    """A storage migrated to the newest schema."""
    empty_storage.migrate()
    return empty_storage


@pytest.fixture
def db(tmp_path: Path) -> tuple[Storage, str]:
    """A migrated storage on a fresh SQLite file, and its URL (for workers that open their own connection)."""
    url = f"sqlite:///{tmp_path / 'bnn-tune.db'}"
    storage = Storage(url)
    storage.migrate()
    return storage, url
