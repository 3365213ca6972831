"""Signed-in sessions and "keep me signed in" tokens, kept on the server so that they can be
ended: signing out, "Sign out everywhere", a password reset or a role change delete them, and
a browser's copy of a cookie is then worth nothing (crm.services.platform.sessions).

Only hashes are stored: a copy of the database does not sign anyone in."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.base import utcnow

if TYPE_CHECKING:
    from crm.models.user import User


class UserSession(db.Model):
    """One signed-in browser. Its random token lives in the signed session cookie."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # SHA-256 of the token (a long random string: a fast hash is enough).
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Touched at most once a minute; a session idle for longer than the setting has ended.
    last_seen_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    address: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(200), default="")
    # Started from a "keep me signed in" cookie rather than the password.
    remembered: Mapped[bool] = mapped_column(Boolean, default=False)

    user: Mapped[User] = relationship()


class RememberToken(db.Model):
    """A "keep me signed in" cookie: `selector:validator`. The selector finds the row, the
    validator is compared by its hash. Each use replaces it with a new one (the old one
    stays usable for a few seconds, for pages that load several addresses at once)."""

    __tablename__ = "remember_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    selector: Mapped[str] = mapped_column(String(32), unique=True)
    # The same for every cookie that replaced the first one of a sign-in: signing out of
    # the browser ends them all, a replaced one still within its grace included.
    family: Mapped[str] = mapped_column(String(32), index=True)
    validator_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Set at sign-in and carried over by every rotation: the sign-in is remembered this long.
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    replaced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
