"""Leads: people who may become customers, before they are contacts (as in Sellution)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.base import LabeledEnum, TimestampMixin, enum_column
from crm.models.contact import ContactKind

if TYPE_CHECKING:
    from crm.models.contact import Contact
    from crm.models.user import User


class LeadStatus(LabeledEnum):
    NEW = ("new", "New")
    WORKING = ("working", "Working")
    QUALIFIED = ("qualified", "Qualified")
    DISQUALIFIED = ("disqualified", "Disqualified")
    CONVERTED = ("converted", "Converted")


class Lead(TimestampMixin, db.Model):
    """Converting a lead (crm.services.sales.leads.convert_lead) makes a contact of it, and of
    its company an account; the lead stays, marked converted, with a link to the contact."""

    __tablename__ = "leads"
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[LeadStatus] = mapped_column(
        enum_column(LeadStatus, "lead_status"), default=LeadStatus.NEW, index=True
    )
    kind: Mapped[ContactKind] = mapped_column(
        enum_column(ContactKind, "contact_kind"), default=ContactKind.B2B
    )
    title: Mapped[str | None] = mapped_column(String(40))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100), index=True)
    company: Mapped[str | None] = mapped_column(String(200))  # the account, for B2B leads
    job_title: Mapped[str | None] = mapped_column(String(150))
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    phone: Mapped[str | None] = mapped_column(String(40))  # as typed; checked on conversion
    website: Mapped[str | None] = mapped_column(String(300))
    city: Mapped[str | None] = mapped_column(String(100))
    country: Mapped[str | None] = mapped_column(String(2))
    source: Mapped[str | None] = mapped_column(String(100))  # web form, fair, referral, ...
    notes: Mapped[str | None] = mapped_column(Text)
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    converted_contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    converted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    converted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    version: Mapped[int] = mapped_column(Integer, default=1, nullable=False)

    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    converted_contact: Mapped[Contact | None] = relationship()
    converted_by: Mapped[User | None] = relationship(foreign_keys=[converted_by_id])

    __mapper_args__ = {"version_id_col": version}

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)

    def __str__(self) -> str:
        return self.full_name or f"Lead #{self.id}"
