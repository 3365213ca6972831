"""The whole database as plain data, to prove that a request changed nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect, select, text

from crm.extensions import db

# Columns any request may write, whatever it asks for: when a signed-in browser was last
# used (at most once a minute, crm.services.sessions.touch_due).
BOOKKEEPING = {"user_sessions": {"last_seen_at"}}


def snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (the search index's internal tables aside), sorted."""
    db.session.rollback()  # see what the server's own sessions committed
    tables = [t for t in inspect(db.engine).get_table_names() if not t.startswith("contact_search")]
    state = {}
    for name in sorted(tables):
        columns = [text("*")]
        if name in BOOKKEEPING:
            columns = [
                text(f'"{c["name"]}"')
                for c in inspect(db.engine).get_columns(name)
                if c["name"] not in BOOKKEEPING[name]
            ]
        rows = db.session.execute(select(*columns).select_from(text(name))).all()
        state[name] = sorted(tuple(repr(v) for v in row) for row in rows)
    db.session.rollback()
    return state


def changed_tables(before: dict, after: dict) -> list[str]:
    return [
        name for name in sorted(set(before) | set(after)) if before.get(name) != after.get(name)
    ]


def tag_links() -> set[tuple[str, str]]:
    """Every (contact first name, tag name) link, read from the link table: each must be
    there once."""
    from crm.models import Contact, Tag, contact_tags

    rows = db.session.execute(
        select(Contact.first_name, Tag.name)
        .join(contact_tags, contact_tags.c.contact_id == Contact.id)
        .join(Tag, Tag.id == contact_tags.c.tag_id)
    ).all()
    pairs = [tuple(row) for row in rows]
    assert len(pairs) == len(set(pairs)), "a contact carries a tag twice"
    return set(pairs)
