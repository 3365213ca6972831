"""Notes on a contact (24SevenOffice's Notes tab): read by everyone who sees the contact unless
the author ticked "private"; changed by their author only (crm.services.card.notes)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Boolean, ForeignKey, Index, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.base import TimestampMixin

if TYPE_CHECKING:
    from crm.models.user import User


class Note(TimestampMixin, db.Model):
    __tablename__ = "notes"
    __audit__ = True
    __audit_parent__ = "contact_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    body: Mapped[str] = mapped_column(Text)
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1, nullable=False)

    author: Mapped[User | None] = relationship()

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (Index("ix_notes_contact_id_created_at", "contact_id", "created_at"),)

    def audit_redacted(self) -> frozenset[str]:
        """The fields history must not show: a private note's text is its author's alone."""
        return frozenset({"body"}) if self.private else frozenset()

    def __str__(self) -> str:
        return "(private note)" if self.private else (self.body or "")[:60]
