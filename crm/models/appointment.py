"""Appointments (24SevenOffice's Appointments tab): a time, a place, a subject and participants
(contacts, accounts, users), with a meeting confirmation mailed as an .ics invitation."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Column, DateTime, ForeignKey, Index, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.base import LabeledEnum, TimestampMixin, enum_column, loaded_ids

if TYPE_CHECKING:
    from crm.models.account import Account
    from crm.models.contact import Contact
    from crm.models.user import User


class AppointmentStatus(LabeledEnum):
    SCHEDULED = ("scheduled", "Scheduled")
    CANCELLED = ("cancelled", "Cancelled")


appointment_contacts = Table(
    "appointment_contacts",
    db.metadata,
    Column("appointment_id", ForeignKey("appointments.id", ondelete="CASCADE"), primary_key=True),
    Column("contact_id", ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_appointment_contacts_contact_id_appointment_id", "contact_id", "appointment_id"),
)
appointment_accounts = Table(
    "appointment_accounts",
    db.metadata,
    Column("appointment_id", ForeignKey("appointments.id", ondelete="CASCADE"), primary_key=True),
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_appointment_accounts_account_id_appointment_id", "account_id", "appointment_id"),
)
appointment_users = Table(
    "appointment_users",
    db.metadata,
    Column("appointment_id", ForeignKey("appointments.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_appointment_users_user_id_appointment_id", "user_id", "appointment_id"),
)


class Appointment(TimestampMixin, db.Model):
    __tablename__ = "appointments"
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(200))
    place: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[AppointmentStatus] = mapped_column(
        enum_column(AppointmentStatus, "appointment_status"), default=AppointmentStatus.SCHEDULED
    )
    # The organiser: the user who owns it (and whom replies go to).
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    # The iCalendar UID and SEQUENCE: a changed appointment's new invitation replaces the old
    # one in the participants' calendars instead of adding a second event.
    uid: Mapped[str] = mapped_column(String(100), unique=True)
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    confirmation_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, default=1, nullable=False)

    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    contacts: Mapped[list[Contact]] = relationship(
        secondary=appointment_contacts, order_by="Contact.last_name"
    )
    accounts: Mapped[list[Account]] = relationship(
        secondary=appointment_accounts, order_by="Account.name"
    )
    users: Mapped[list[User]] = relationship(secondary=appointment_users, order_by="User.email")

    __mapper_args__ = {"version_id_col": version}

    def audit_contact_ids(self) -> list[int]:
        """History puts the appointment on each participating contact's page."""
        return loaded_ids(self, "contacts")

    def __str__(self) -> str:
        return self.subject
