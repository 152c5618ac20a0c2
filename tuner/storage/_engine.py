"""Engines for the storage: URL checks, SQLite pragmas, driver-error translation and Alembic migrations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    ProgrammingError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from bnn_errors import ConflictError, InvalidInputError, StorageUnavailableError

__all__ = [
    "DATABASE_URL_VARIABLE",
    "MIGRATIONS_DIR",
    "READ_ONLY",
    "alembic_config",
    "current_revision",
    "masked_url",
    "migrate",
    "open_engine",
    "translate_error",
]

DATABASE_URL_VARIABLE = "BNN_TUNE_DATABASE_URL"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Execution option marking read-only transactions, which need no write lock on SQLite.
READ_ONLY = "bnn_tune_read_only"

_SQLITE_BUSY_TIMEOUT_MS = 30_000
_POSTGRES_CONNECT_TIMEOUT_S = 10
# Any constant will do; it keeps two processes from migrating one PostgreSQL database at once.
_MIGRATION_LOCK_KEY = 0x626E6E74
_UNDEFINED_TABLE_SQLSTATE = "42P01"


def open_engine(url: str) -> Engine:
    """An engine for ``url`` (no connection yet); a plain ``postgresql://`` URL gets psycopg 3.

    Raises ``InvalidInputError`` naming ``BNN_TUNE_DATABASE_URL`` if the URL is malformed or its driver
    is missing.
    """
    try:
        parsed = make_url(url)
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return _create_engine(parsed)
    except (ArgumentError, ImportError) as error:
        # A URL too broken to parse cannot have its password masked, so it is not repeated.
        raise InvalidInputError(f"{DATABASE_URL_VARIABLE} is not a usable database URL: {error}") from None


def masked_url(engine: Engine) -> str:
    """The engine's URL with the password masked, safe to log."""
    return engine.url.render_as_string(hide_password=True)


def translate_error(error: SQLAlchemyError, engine: Engine) -> Exception:
    """Our exception for a driver error; errors that mean a bug in the caller come back unchanged."""
    original = getattr(error, "orig", None) or error
    lines = str(original).strip().splitlines()
    detail = lines[0] if lines else type(original).__name__
    where = f"the database at {masked_url(engine)} (set by {DATABASE_URL_VARIABLE})"
    if _is_missing_table(error):
        return StorageUnavailableError(f"{where} has no bnn-tune tables; migrate it first: {detail}")
    if isinstance(error, OperationalError | InterfaceError | PoolTimeoutError) or (
        isinstance(error, DBAPIError) and error.connection_invalidated
    ):
        return StorageUnavailableError(f"cannot use {where}: {detail}")
    if isinstance(error, IntegrityError):
        return ConflictError(f"the change conflicts with stored data: {detail}")
    return error


def alembic_config() -> Config:
    """An Alembic configuration for the packaged migrations (no ini file needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database to ``revision``, one process at a time; raises like :func:`translate_error`."""
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    except SQLAlchemyError as error:
        raise translate_error(error, engine) from error


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, ``None`` if never migrated; raises like :func:`translate_error`."""
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as error:
        raise translate_error(error, engine) from error


def _create_engine(url: URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    connect_args: dict[str, Any] = {}
    if url.get_backend_name() == "postgresql":
        # Without it an unreachable host hangs for the operating system's TCP timeout (minutes).
        connect_args["connect_timeout"] = _POSTGRES_CONNECT_TIMEOUT_S
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Transactions are begun in _sqlite_begin, not by the sqlite3 module, which would begin them deferred:
    # two writers would then collide and fail at once instead of waiting for each other.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {_SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys = ON")
    # WAL lets readers go on while another process writes (the API reads while the scheduler writes).
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # A writer takes the write lock at once, waiting up to the busy timeout for it.
    read_only = connection.get_execution_options().get(READ_ONLY, False)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def _is_missing_table(error: SQLAlchemyError) -> bool:
    original = getattr(error, "orig", None)
    if isinstance(error, OperationalError) and "no such table" in str(original):
        return True
    return isinstance(error, ProgrammingError) and getattr(original, "sqlstate", None) == _UNDEFINED_TABLE_SQLSTATE
