"""SQL storage of studies, comparisons, trials and learning curves: our tables are the source of truth.

:class:`Storage` is the one API that reads and writes them (SQLite or PostgreSQL, through SQLAlchemy 2);
it takes configurations and returns frozen records. Alembic manages the schema: :meth:`Storage.migrate` upgrades a
database to the newest revision; the migrations ship inside this package.
"""

from tuner.storage._engine import DATABASE_URL_VARIABLE, MIGRATIONS_DIR, alembic_config
from tuner.storage._records import (
    STUDY_STATES,
    TERMINAL_STUDY_STATES,
    TERMINAL_TRIAL_STATES,
    TRIAL_STATES,
    ComparisonRecord,
    CurvePoint,
    StudyRecord,
    TrialRecord,
)
from tuner.storage._storage import Storage
from tuner.study.states import StudyState, TrialState

__all__ = [
    "DATABASE_URL_VARIABLE",
    "MIGRATIONS_DIR",
    "STUDY_STATES",
    "TERMINAL_STUDY_STATES",
    "TERMINAL_TRIAL_STATES",
    "TRIAL_STATES",
    "ComparisonRecord",
    "CurvePoint",
    "Storage",
    "StudyRecord",
    "StudyState",
    "TrialRecord",
    "TrialState",
    "alembic_config",
]
