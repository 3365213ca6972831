"""The whole database as plain data, to prove that a request changed nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect, select, text

from crm.extensions import db


def snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (the search index's internal tables aside), sorted."""
    db.session.rollback()  # see what the server's own sessions committed
    tables = [t for t in inspect(db.engine).get_table_names() if not t.startswith("contact_search")]
    state = {}
    for name in sorted(tables):
        rows = db.session.execute(select(text("*")).select_from(text(name))).all()
        state[name] = sorted(tuple(repr(v) for v in row) for row in rows)
    db.session.rollback()
    return state


def changed_tables(before: dict, after: dict) -> list[str]:
    return [
        name for name in sorted(set(before) | set(after)) if before.get(name) != after.get(name)
    ]
