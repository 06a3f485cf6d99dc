"""Storage of runs, questions, attempts and memories in a SQL database (SQLite by default).

This is the only package that imports SQLAlchemy or Alembic. Everything it returns is a plain
record from records.py.
"""

from lrm_lab.store.database import (
    DATABASE_URL_VARIABLE,
    DatabaseVersionError,
    database_url,
)
from lrm_lab.store.memories import question_key
from lrm_lab.store.records import (
    AttemptRecord,
    AttemptSummary,
    CostRecord,
    MemoryRecord,
    NamespaceRecord,
    QuestionRecord,
    RunRecord,
)
from lrm_lab.store.store import (
    ItemAlreadyStoredError,
    Store,
    question_content_hash,
    to_plain_json,
)
from lrm_lab.store.tables import RUN_KINDS, RUN_STATUSES

__all__ = [
    "DATABASE_URL_VARIABLE",
    "RUN_KINDS",
    "RUN_STATUSES",
    "AttemptRecord",
    "AttemptSummary",
    "CostRecord",
    "ItemAlreadyStoredError",
    "MemoryRecord",
    "NamespaceRecord",
    "DatabaseVersionError",
    "QuestionRecord",
    "RunRecord",
    "Store",
    "database_url",
    "question_content_hash",
    "question_key",
    "to_plain_json",
]
