"""Contact search: the one place that turns what a user typed into a WHERE clause.

Every word must appear somewhere in the contact's names or emails (`Contact.search_text`,
kept lower-cased by services.contacts), so "ith" finds Smith and "ana smi" finds Ana Smith.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_

from crm.models import Contact

MAX_TERMS = 8


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def contact_search_clause(text: str | None) -> ColumnElement[bool] | None:
    """None when there is nothing to search for."""
    words = [w for w in (text or "").lower().split() if w][:MAX_TERMS]
    if not words:
        return None
    return and_(
        *(Contact.search_text.like(f"%{_escape_like(w[:100])}%", escape="\\") for w in words)
    )
