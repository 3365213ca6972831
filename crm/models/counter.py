"""Named counters that never hand out a number twice (customer numbers)."""

from __future__ import annotations

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db


class Counter(db.Model):
    """The last number handed out under `name`. crm.services.platform.counters takes the next one
    with a single UPDATE ... RETURNING, which the database serialises: two requests at once
    never get the same number, and a rolled-back one leaves a gap rather than a repeat."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)
