"""Which database errors are concurrent write conflicts (refused like a stale edit), told
apart on the real database: SQLite's "database is locked", PostgreSQL's serialization
failure, a duplicate made meanwhile; other errors stay errors."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from crm.errors import StaleEditError
from crm.extensions import db
from crm.services.platform.write_conflicts import is_write_conflict, refused_on_conflict

VIP = "INSERT INTO tags (name, key, created_at) VALUES ('VIP', 'vip', CURRENT_TIMESTAMP)"


def _error(conn, sql: str) -> DBAPIError:
    with pytest.raises(DBAPIError) as caught:
        conn.execute(text(sql))
    return caught.value


def test_a_locked_or_serialization_failure_is_a_conflict(app, make_contact):
    contact = make_contact()
    engine = db.engine
    other = create_engine(engine.url.render_as_string(hide_password=False))
    update = f"UPDATE contacts SET job_title = 'x' WHERE id = {contact.id}"
    try:
        with other.connect() as holder, engine.connect() as waiter:
            if engine.dialect.name == "sqlite":
                waiter.exec_driver_sql("PRAGMA busy_timeout=0")  # fail at once, not in 5 s
                holder.exec_driver_sql("BEGIN IMMEDIATE")  # holds the write lock
                found = _error(waiter, update)
                assert "database is locked" in str(found)
            else:
                waiter.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                waiter.execute(text(f"SELECT job_title FROM contacts WHERE id = {contact.id}"))
                holder.execute(text(update))
                holder.commit()
                found = _error(waiter, update)
                assert found.orig.sqlstate == "40001"
            assert is_write_conflict(found)
            holder.rollback()
            waiter.rollback()
    finally:
        other.dispose()


def test_a_duplicate_is_a_conflict_and_other_errors_are_not(app):
    with db.engine.connect() as conn:
        conn.execute(text(VIP))
        assert is_write_conflict(_error(conn, VIP))
        conn.rollback()
        null_name = "INSERT INTO tags (key, created_at) VALUES ('x', CURRENT_TIMESTAMP)"
        assert not is_write_conflict(_error(conn, null_name))
        conn.rollback()
        assert not is_write_conflict(_error(conn, "SELECT no_such_column FROM tags"))
        conn.rollback()


def test_refused_on_conflict_turns_a_conflict_into_the_stale_edit_refusal(app):
    with db.engine.connect() as conn:
        conn.execute(text(VIP))
        saved = "Someone else saved this tag while you"
        with pytest.raises(StaleEditError, match=saved), refused_on_conflict("tag"):
            conn.execute(text(VIP))
        conn.rollback()
        with pytest.raises(DBAPIError), refused_on_conflict("tag"):
            conn.execute(text("SELECT no_such_column FROM tags"))
