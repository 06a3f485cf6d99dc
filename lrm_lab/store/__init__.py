"""Storage of runs, questions, attempts, memories and adapters in a SQL database (SQLite by default).

This is the only package that imports SQLAlchemy or Alembic. Everything it returns is a plain
record from records.py.
"""

from lrm_lab.store.database import (
    DATABASE_URL_VARIABLE,
    DatabaseVersionError,
    database_url,
)
from lrm_lab.store.memories import question_key
from lrm_lab.store.plain_json import to_plain_json
from lrm_lab.store.records import (
    AdapterRecord,
    AttemptRecord,
    AttemptSummary,
    CostRecord,
    MemoryRecord,
    NamespaceRecord,
    QuestionRecord,
    RunRecord,
    check_adapter_name,
)
from lrm_lab.store.store import (
    ItemAlreadyStoredError,
    Store,
    question_content_hash,
)
from lrm_lab.store.tables import ADAPTER_KINDS, ADAPTER_STATUSES, RUN_KINDS, RUN_STATUSES

__all__ = [
    "ADAPTER_KINDS",
    "ADAPTER_STATUSES",
    "DATABASE_URL_VARIABLE",
    "RUN_KINDS",
    "RUN_STATUSES",
    "AdapterRecord",
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
    "check_adapter_name",
    "database_url",
    "question_content_hash",
    "question_key",
    "to_plain_json",
]
