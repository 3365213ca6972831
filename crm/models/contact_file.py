"""Files kept with a contact (24SevenOffice's File area). The bytes live under the instance
folder with a generated name (crm.services.card.files); this row holds what the user sees."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.base import utcnow

if TYPE_CHECKING:
    from crm.models.user import User


class ContactFile(db.Model):
    __tablename__ = "contact_files"
    __audit__ = True
    __audit_parent__ = "contact_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    # The name on disk: random, never the uploader's, so a name cannot reach another path.
    stored_name: Mapped[str] = mapped_column(String(80), unique=True)
    # The uploader's file name, shown and offered on download (sanitised).
    filename: Mapped[str] = mapped_column(String(255))
    # The type read from the content, not the one the browser claimed.
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    uploaded_by: Mapped[User | None] = relationship()

    __table_args__ = (Index("ix_contact_files_contact_id_id", "contact_id", "id"),)

    def __str__(self) -> str:
        return self.filename
