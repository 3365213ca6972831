"""INSERT ... SELECT that reports how many rows it inserted, on every database.

The DB-API rowcount of an INSERT ... SELECT is -1 on PostgreSQL (psycopg with SQLAlchemy
2.1), so the rows are counted with the same SELECT first, in the same transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, insert, select

from crm.extensions import db


def insert_counted(into: Any, columns: list[str], source: Select) -> int:
    """Insert the rows `source` selects into `into` (a Table or a model); return how many."""
    how_many = db.session.scalar(select(func.count()).select_from(source.subquery())) or 0
    if how_many:
        db.session.execute(insert(into).from_select(columns, source))
    return how_many
