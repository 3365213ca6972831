"""Counting that stays cheap at a million rows: exact up to a cap, "more than" beyond it."""

from __future__ import annotations

from sqlalchemy import Select, func, select

from crm.extensions import db

COUNT_CAP = 10_000


def capped_count(query: Select, cap: int | None = None) -> tuple[int, bool]:
    """(rows `query` selects, counted up to the cap; whether there are more than the cap)."""
    cap = COUNT_CAP if cap is None else cap
    limited = query.order_by(None).limit(cap + 1).subquery()
    total = db.session.scalar(select(func.count()).select_from(limited)) or 0
    return min(total, cap), total > cap
