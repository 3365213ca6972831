"""Concurrent write conflicts, told apart from other database errors and turned into the
domain's refusal (StaleEditError), for the boundaries to answer like any stale edit.

Two people saving the same record at the same moment meet in the database, not in the
services' version checks: SQLAlchemy's optimistic lock (`version_id_col`) finds the row's
version moved on (StaleDataError), PostgreSQL gives up a serialization failure or a
deadlock, SQLite stays "database is locked" past its busy timeout, and two inserts of the
same new row (a tag both bulk actions create) break a unique constraint: the services
check uniqueness first, so a duplicate that reaches the database was made meanwhile.
Each boundary helper (the admin's save, delete, action and view paths, the API's commit,
the merge page) wraps its work and commit in `refused_on_conflict()`; nothing else
catches these errors.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm.exc import StaleDataError

from crm.errors import StaleEditError

log = logging.getLogger(__name__)

# PostgreSQL: serialization_failure, deadlock_detected, lock_not_available, unique_violation.
_PG_CONFLICTS = frozenset({"40001", "40P01", "55P03", "23505"})
_SQLITE_BUSY = 5  # SQLITE_BUSY ("database is locked"), and its extended codes (& 0xFF)
_SQLITE_UNIQUE = frozenset({2067, 1555})  # SQLITE_CONSTRAINT_UNIQUE, _PRIMARYKEY

SAVED_MEANWHILE = (
    "Someone else saved this {what} while you were saving it. Nothing was saved: reload "
    "the page to see their changes, then make yours again."
)


def is_write_conflict(exc: BaseException) -> bool:
    """Whether `exc` says another transaction changed (or holds) the same rows."""
    if isinstance(exc, StaleDataError):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    original = exc.orig
    if getattr(original, "sqlstate", None) in _PG_CONFLICTS:  # psycopg 3
        return True
    code = getattr(original, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF == _SQLITE_BUSY or code in _SQLITE_UNIQUE
    return "database is locked" in str(original)


def refusal(exc: BaseException, what: str = "record", message: str | None = None):
    """The StaleEditError to answer a write conflict with; None when `exc` is not one."""
    if not is_write_conflict(exc):
        return None
    # A duplicate is a race or a missing check: kept in the log to be told apart.
    log.warning("Write conflict refused: %s", exc)
    return StaleEditError(message or SAVED_MEANWHILE.format(what=what))


@contextmanager
def refused_on_conflict(what: str = "record", message: str | None = None) -> Iterator[None]:
    """Run the block (the work and its commit); a write conflict leaves it as StaleEditError
    (`message`, else "someone else saved this `what`"). The caller rolls back, as for any
    domain error."""
    try:
        yield
    except (StaleDataError, DBAPIError) as exc:
        found = refusal(exc, what, message)
        if found is None:
            raise
        raise found from exc
