"""Merges of contacts or of accounts, with what it takes to undo them
(crm.services.merge: merging in `contacts` and `accounts`, undoing in `undo`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db
from crm.models.base import utcnow


class MergeRecord(db.Model):
    """One merge: its master, the records merged into it, and every change it made.

    No foreign keys, like the history: the record must not itself be moved by a later
    merge, and it outlives the rows it names.
    """

    __tablename__ = "merges"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # "contact" or "account"
    master_id: Mapped[int] = mapped_column(Integer)
    merged_ids: Mapped[list] = mapped_column(JSON, default=list)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer)
    user_email: Mapped[str | None] = mapped_column(String(254))
    summary: Mapped[str] = mapped_column(String(300), default="")
    # {field: [master's value before, after]} as shown on the merge's page.
    fields: Mapped[dict] = mapped_column(JSON, default=dict)
    # What undo replays backwards: rows' snapshots, moved references, dropped duplicates.
    changes: Mapped[dict] = mapped_column(JSON, default=dict)
    # The master's version once merged: undo is refused when it has moved since.
    master_version: Mapped[int] = mapped_column(Integer, default=0)
    undone_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    undone_by_email: Mapped[str | None] = mapped_column(String(254))

    __table_args__ = (Index("ix_merges_kind_master_id", "kind", "master_id"),)

    def __str__(self) -> str:
        return self.summary or f"Merge #{self.id}"
