"""The append-only history of changes (written by crm.services.platform.audit)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, DateTime, Index, Integer, String, Table, event
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db
from crm.models.base import utcnow


class AuditEntry(db.Model):
    """One create, update or delete of one row, with each field's old and new value.

    `contact_id` / `account_id` name the record the change belongs to (a phone's contact),
    so a contact's history includes its child rows. No foreign keys: history outlives rows.
    """

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    user_email: Mapped[str | None] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(20), index=True)  # create / update / delete
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int | None] = mapped_column(Integer)
    contact_id: Mapped[int | None] = mapped_column(Integer, index=True)
    account_id: Mapped[int | None] = mapped_column(Integer, index=True)
    summary: Mapped[str] = mapped_column(String(300), default="")
    changes: Mapped[dict] = mapped_column(JSON, default=dict)  # {field: [old, new]}

    __table_args__ = (Index("ix_audit_entries_entity", "entity_type", "entity_id"),)


# The further contacts an entry belongs to, besides its `contact_id`: a deal's, an
# appointment's or a connection's other contacts, the contacts an import or a merge touched.
# Keyed by contact: a contact's History tab reads them from the index. No foreign keys, like
# the entries: history outlives rows.
audit_entry_contacts = Table(
    "audit_entry_contacts",
    db.metadata,
    Column("contact_id", Integer, primary_key=True),
    Column("entry_id", Integer, primary_key=True),
    sqlite_with_rowid=False,
)

# The contacts a bulk action touched: keyed by the entry, so that recording 100,000 of them
# appends to the end of one B-tree instead of rewriting every touched contact's part of it
# (twice as fast). A contact's History tab asks each bulk entry whether it names the
# contact: one look-up in this key per bulk action (there are few of them).
audit_bulk_contacts = Table(
    "audit_bulk_contacts",
    db.metadata,
    Column("entry_id", Integer, primary_key=True),
    Column("contact_id", Integer, primary_key=True),
    sqlite_with_rowid=False,
)


@event.listens_for(AuditEntry, "before_update")
@event.listens_for(AuditEntry, "before_delete")
def _refuse_rewrite(_mapper, _connection, _target) -> None:
    raise PermissionError("History is append-only: audit entries cannot be changed or deleted.")
