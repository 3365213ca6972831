"""Phone numbers of a contact."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.lookups import PhoneType

if TYPE_CHECKING:
    from crm.models.contact import Contact


class Phone(db.Model):
    """As typed (country code, number, extension) plus the E.164 form for matching."""

    __tablename__ = "phones"
    __audit__ = True
    __audit_parent__ = "contact_id"
    # A merge keeps one of a contact's rows that agree on these (the same number).
    __merge_key__ = ("e164", "extension")

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    phone_type_id: Mapped[int] = mapped_column(ForeignKey("phone_types.id"), index=True)
    country_code: Mapped[str | None] = mapped_column(String(6))  # calling code, e.g. "+44"
    number: Mapped[str] = mapped_column(String(40))
    extension: Mapped[str | None] = mapped_column(String(10))
    e164: Mapped[str | None] = mapped_column(String(20), index=True)
    formatted: Mapped[str | None] = mapped_column(String(40))  # international format

    contact: Mapped[Contact] = relationship(back_populates="phones")
    phone_type: Mapped[PhoneType] = relationship()

    @property
    def display(self) -> str:
        shown = self.formatted or self.number
        return f"{shown} ext. {self.extension}" if self.extension else shown

    def __str__(self) -> str:
        label = self.phone_type.name if self.phone_type else "Phone"
        return f"{label}: {self.display}"
