"""API tokens: a user's keys to the JSON API (crm.api), which acts with that user's rights.
Only a hash is stored; the token itself is shown once, when it is made."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.base import utcnow

if TYPE_CHECKING:
    from crm.models.user import User


class ApiToken(db.Model):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # SHA-256 of the token (tokens are long random strings: a fast hash is enough).
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))  # its first characters, to tell it apart
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # What the token may be used for (crm.services.platform.api_tokens.SCOPES), space-separated:
    # within the user's own rights, an integration gets only what it needs.
    scopes: Mapped[str] = mapped_column(String(200), default="", server_default="")

    user: Mapped[User] = relationship()

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
