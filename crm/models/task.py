"""Tasks (24SevenOffice's Tasks tab): something to do for a contact or an account, by a user, by
a date. Overdue: not done or cancelled, and due before today."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Date, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.base import LabeledEnum, TimestampMixin, enum_column

if TYPE_CHECKING:
    from crm.models.account import Account
    from crm.models.contact import Contact
    from crm.models.user import User


class TaskStatus(LabeledEnum):
    OPEN = ("open", "Open")
    IN_PROGRESS = ("in_progress", "In progress")
    DONE = ("done", "Done")
    CANCELLED = ("cancelled", "Cancelled")


OPEN_TASK_STATUSES = (TaskStatus.OPEN, TaskStatus.IN_PROGRESS)


class Task(TimestampMixin, db.Model):
    __tablename__ = "tasks"
    __audit__ = True
    __audit_parent__ = "contact_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[TaskStatus] = mapped_column(
        enum_column(TaskStatus, "task_status"), default=TaskStatus.OPEN
    )
    due_on: Mapped[date | None] = mapped_column(Date)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    version: Mapped[int] = mapped_column(Integer, default=1, nullable=False)

    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    contact: Mapped[Contact | None] = relationship()
    account: Mapped[Account | None] = relationship()

    __mapper_args__ = {"version_id_col": version}
    # "My open tasks by due date", and the overdue ones, are index range reads.
    __table_args__ = (Index("ix_tasks_owner_id_status_due_on", "owner_id", "status", "due_on"),)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_TASK_STATUSES

    def is_overdue(self, today: date) -> bool:
        return self.is_open and self.due_on is not None and self.due_on < today

    def __str__(self) -> str:
        return self.title
