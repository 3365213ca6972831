"""Interactions with a contact (as in SECUTIX): a call received, an email sent, a letter, a
meeting, registered by hand or by the app when it writes to the contact."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.base import LabeledEnum, TimestampMixin, enum_column, utcnow

if TYPE_CHECKING:
    from crm.models.contact import Contact
    from crm.models.user import User


class Medium(LabeledEnum):
    CALL = ("call", "Call")
    EMAIL = ("email", "Email")
    SMS = ("sms", "SMS")
    MEETING = ("meeting", "Meeting")
    LETTER = ("letter", "Letter")
    DOCUMENT = ("document", "Document")
    OTHER = ("other", "Other")


class Direction(LabeledEnum):
    OUT = ("out", "Out (we contacted them)")
    IN = ("in", "In (they contacted us)")


class InteractionStatus(LabeledEnum):
    OPEN = ("open", "Open")
    CLOSED = ("closed", "Closed")
    ARCHIVED = ("archived", "Archived")


class Interaction(TimestampMixin, db.Model):
    __tablename__ = "interactions"
    __audit__ = True
    __audit_parent__ = "contact_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    medium: Mapped[Medium] = mapped_column(enum_column(Medium, "interaction_medium"), index=True)
    direction: Mapped[Direction] = mapped_column(
        enum_column(Direction, "interaction_direction"), default=Direction.OUT
    )
    status: Mapped[InteractionStatus] = mapped_column(
        enum_column(InteractionStatus, "interaction_status"),
        default=InteractionStatus.OPEN,
        index=True,
    )
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The email address or phone number written to or from, when there is one.
    address: Mapped[str | None] = mapped_column(String(254))
    # The user in charge of it (SECUTIX: "assign them to an operator").
    operator_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    version: Mapped[int] = mapped_column(Integer, default=1, nullable=False)

    contact: Mapped[Contact] = relationship()
    operator: Mapped[User | None] = relationship(foreign_keys=[operator_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        Index("ix_interactions_contact_id_occurred_at", "contact_id", "occurred_at"),
        Index("ix_interactions_occurred_at", "occurred_at"),
    )

    def __str__(self) -> str:
        return f"{self.medium.label} {self.direction.value}: {self.subject}"
