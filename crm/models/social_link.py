"""Social media links of a contact."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.lookups import SocialPlatform

if TYPE_CHECKING:
    from crm.models.contact import Contact


class SocialLink(db.Model):
    """`handle` is what the user typed (a URL or a handle); `url` is the checked profile URL."""

    __tablename__ = "social_links"
    __audit__ = True
    __audit_parent__ = "contact_id"
    # A merge keeps one of a contact's rows that agree on these (the same profile).
    __merge_key__ = ("platform_id", "handle")

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    platform_id: Mapped[int] = mapped_column(ForeignKey("social_platforms.id"), index=True)
    handle: Mapped[str] = mapped_column(String(300))
    url: Mapped[str | None] = mapped_column(String(300))

    contact: Mapped[Contact] = relationship(back_populates="social_links")
    platform: Mapped[SocialPlatform] = relationship()

    def __str__(self) -> str:
        label = self.platform.name if self.platform else "Link"
        return f"{label}: {self.url or self.handle}"
