"""Storage fixtures: every storage test runs on a SQLite file and on a PostgreSQL database (``storage_url``,
from the root conftest)."""

from __future__ import annotations

from collections.abc import Iterator

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
