"""Scheduled work's settings (Marketing > Automations) and its ledger of what was done."""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text, Time
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.base import LabeledEnum, enum_column, utcnow


class AutomationKind(LabeledEnum):
    BIRTHDAY_GREETING = ("birthday_greeting", "Birthday greetings")
    TASK_DIGEST = ("task_digest", "Morning task reminders")
    APPOINTMENT_REMINDER = ("appointment_reminder", "Appointment reminders")


class Automation(db.Model):
    """One automation's settings: on or off, its message (merge fields allowed), when it runs
    (`send_time`: the local time of day; `lead_minutes`: how long before an appointment) and
    its audience (`segment_id`; none: everyone with consent)."""

    __tablename__ = "automations"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[AutomationKind] = mapped_column(
        enum_column(AutomationKind, "automation_kind"), unique=True
    )
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    subject: Mapped[str] = mapped_column(String(200), default="")
    body_text: Mapped[str] = mapped_column(Text, default="")
    send_time: Mapped[time | None] = mapped_column(Time)
    lead_minutes: Mapped[int | None] = mapped_column(Integer)
    segment_id: Mapped[int | None] = mapped_column(ForeignKey("segments.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    segment = relationship("Segment")


class DoneWork(db.Model):
    """A piece of scheduled work done once (a user's digest of a day, a reminder of an
    appointment, a retention sweep of an hour): its key is claimed, in a committed insert,
    before the work is done, so two schedulers at once cannot both do it."""

    __tablename__ = "done_work"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    done_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
