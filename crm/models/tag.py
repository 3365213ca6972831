"""Free tags on contacts, created on the fly."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, ForeignKey, Index, String, Table
from sqlalchemy.orm import Mapped, mapped_column, validates

from crm.extensions import db
from crm.models.base import utcnow

contact_tags = Table(
    "contact_tags",
    db.metadata,
    Column("contact_id", ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    # The primary key serves "tags of a contact"; this serves "contacts with a tag".
    Index("ix_contact_tags_tag_id_contact_id", "tag_id", "contact_id"),
)


class Tag(db.Model):
    """`name` as the user typed it; `key` (lower-cased, trimmed) is unique, so "VIP" and
    "vip" are one tag."""

    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    key: Mapped[str] = mapped_column(String(60), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    @validates("name")
    def _keep_key(self, _attr: str, value: str) -> str:
        value = " ".join((value or "").split())
        self.key = value.lower()
        return value

    def __str__(self) -> str:
        return self.name
