"""Connections between contacts (as in SECUTIX): typed links such as colleague, spouse or
assistant, each type with the name its other end sees ("Assistant" / "Assistant to")."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import DateTime, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.base import utcnow
from crm.models.lookups import LookupMixin

if TYPE_CHECKING:
    from crm.models.contact import Contact
    from crm.models.user import User


class ConnectionType(LookupMixin, db.Model):
    """`name` is what the contact a link starts from sees of the other ("Assistant: Bob");
    `inverse_name` what the other sees back ("Assistant to: Anna"). The same for a symmetric
    type ("Colleague" / "Colleague")."""

    __tablename__ = "connection_types"

    # Empty when typed: the rules (crm.services.lists.lookups) give it the type's own name.
    inverse_name: Mapped[str] = mapped_column(String(60), default="")


class Connection(db.Model):
    __tablename__ = "connections"
    __audit__ = True
    __audit_parent__ = "contact_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    other_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    type_id: Mapped[int] = mapped_column(ForeignKey("connection_types.id"), index=True)
    note: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    contact: Mapped[Contact] = relationship(foreign_keys=[contact_id])
    other: Mapped[Contact] = relationship(foreign_keys=[other_id])
    type: Mapped[ConnectionType] = relationship()
    created_by: Mapped[User | None] = relationship()

    # The unique key also serves "a contact's connections" (contact_id leads it).
    __table_args__ = (UniqueConstraint("contact_id", "other_id", "type_id"),)

    def audit_contact_ids(self) -> list[int]:
        """A connection is in both contacts' history."""
        return [self.other_id]

    def __str__(self) -> str:
        return f"{self.type.name if self.type else 'Connection'} #{self.other_id}"
