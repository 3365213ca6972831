"""Every email the app sends to a contact (but campaign mails, kept per recipient by
crm.models.campaign), and the addresses whose mail bounces."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.base import LabeledEnum, enum_column, utcnow
from crm.models.user import User


class EmailKind(LabeledEnum):
    ONE_OFF = ("one_off", "Email")
    MEETING = ("meeting", "Meeting confirmation")
    GREETING = ("greeting", "Birthday greeting")
    PASSWORD_LINK = ("password_link", "Password link")
    OPT_IN = ("opt_in", "Confirmation request")


class EmailStatus(LabeledEnum):
    SENDING = ("sending", "Sending")
    SENT = ("sent", "Sent")
    FAILED = ("failed", "Failed")


class SentEmail(db.Model):
    """One message to one contact. `key` makes scheduled mail (a birthday greeting of a year)
    unique: the row is committed as `sending` before the mail goes, so a second run of the
    scheduler finds it and sends nothing."""

    __tablename__ = "sent_emails"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    kind: Mapped[EmailKind] = mapped_column(enum_column(EmailKind, "email_kind"))
    status: Mapped[EmailStatus] = mapped_column(
        enum_column(EmailStatus, "email_status"), default=EmailStatus.SENT
    )
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    body_text: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(255))
    key: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    sent_by: Mapped[User | None] = relationship()

    __table_args__ = (Index("ix_sent_emails_contact_id_created_at", "contact_id", "created_at"),)


class BouncingAddress(db.Model):
    """An address the mail servers refused (a delivery status notification said so): no
    campaign goes to it until the contact's address changes."""

    __tablename__ = "bouncing_addresses"

    email: Mapped[str] = mapped_column(String(254), primary_key=True)  # lower case
    first_bounced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_bounced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    bounces: Mapped[int] = mapped_column(Integer, default=1)
    reason: Mapped[str] = mapped_column(String(500), default="")
