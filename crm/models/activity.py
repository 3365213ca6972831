"""Comments posted in a contact's activity feed (SimpleOne's Activity feed widget)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import DateTime, ForeignKey, Index, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.base import utcnow

if TYPE_CHECKING:
    from crm.models.user import User


class Comment(db.Model):
    """One comment in the feed. Comments are not edited: a correction is a new comment."""

    __tablename__ = "comments"
    __audit__ = True
    __audit_parent__ = "contact_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    author: Mapped[User | None] = relationship()

    # The feed reads a contact's newest comments, and polls for those after the last seen id.
    __table_args__ = (Index("ix_comments_contact_id_id", "contact_id", "id"),)

    def __str__(self) -> str:
        return (self.body or "")[:60]
