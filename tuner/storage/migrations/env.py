"""Alembic environment of the bnn-tune tables.

Run programmatically by ``Storage.migrate`` (which passes its open connection in ``config.attributes``), or
from the command line with ``alembic -c tuner/storage/alembic.ini ...``, where the database is the one named
by ``sqlalchemy.url`` in the ini file or, if unset there, by ``BNN_TUNE_DATABASE_URL``.
"""

from __future__ import annotations

from logging.config import fileConfig
from typing import Any, Literal

from alembic import context
from sqlalchemy import Connection

from tuner.settings import get_settings
from tuner.storage._engine import open_engine
from tuner.storage._models import Base, UTCDateTime

config = context.config
target_metadata = Base.metadata

# Only the command line configures logging; a program calling Storage.migrate keeps its own.
if config.config_file_name is not None:
    fileConfig(config.config_file_name)


def _render_item(kind: str, item: Any, autogen_context: Any) -> str | Literal[False]:
    # Revisions must not import our models, whose later changes would rewrite history.
    if kind == "type" and isinstance(item, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _database_url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    return url if url else get_settings().database_url


def _configure(**options: Any) -> None:
    context.configure(
        target_metadata=target_metadata,
        # SQLite cannot alter most of a table in place; batch mode copies it instead.
        render_as_batch=True,
        compare_type=True,
        render_item=_render_item,
        **options,
    )


def _run_online(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    _configure(url=_database_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()
elif (given := config.attributes.get("connection")) is not None:
    _run_online(given)
else:
    engine = open_engine(_database_url())
    try:
        with engine.begin() as opened:
            _run_online(opened)
    finally:
        engine.dispose()
