"""Numbers that never repeat: customer numbers and order numbers."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite

from crm.extensions import db
from crm.models import Counter

# Where each counter starts: the first number handed out is one more.
STARTS = {"customer_number": 10000, "order_number": 100000}


def next_value(name: str) -> int:
    """The next number of counter `name`, in the session's transaction.

    One UPDATE ... RETURNING: the database lets one transaction at a time change the row
    (PostgreSQL's row lock, SQLite's write lock), so two requests at once get two numbers;
    a transaction that rolls back leaves a gap, never a number given twice."""
    bump = (
        update(Counter)
        .where(Counter.name == name)
        .values(value=Counter.value + 1)
        .returning(Counter.value)
    )
    value = db.session.execute(bump).scalar()
    if value is None:  # the counter's first use: create it (once, whoever comes first)
        dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
        db.session.execute(
            dialect.insert(Counter)
            .values(name=name, value=STARTS.get(name, 0))
            .on_conflict_do_nothing(index_elements=["name"])
        )
        value = db.session.execute(bump).scalar()
    return int(value)
