"""Large exports, run as jobs: the contacts chosen when the export was asked for, and the
file the job writes (crm.services.transfer.export_jobs)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, ForeignKey, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db
from crm.models.base import enum_column, utcnow
from crm.models.import_job import JobStatus

# The contacts an export job writes, fixed when it was asked for (the list's filters or the
# selection at that moment); emptied when the job ends. No foreign key to contacts: a contact
# deleted meanwhile is simply not written.
export_items = Table(
    "export_items",
    db.metadata,
    Column("job_id", ForeignKey("export_jobs.id", ondelete="CASCADE"), primary_key=True),
    Column("contact_id", Integer, primary_key=True),
)


class ExportJob(db.Model):
    """An export written to a file under `instance/exports/` in the background, with its
    progress; the user who asked for it downloads the file from the job's page."""

    __tablename__ = "export_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    file_format: Mapped[str] = mapped_column(String(10))  # csv, xlsx, vcf
    described: Mapped[str] = mapped_column(String(500), default="")  # what was exported
    stored_name: Mapped[str] = mapped_column(String(100))  # under instance/exports/
    status: Mapped[JobStatus] = mapped_column(
        enum_column(JobStatus, "job_status"), default=JobStatus.QUEUED, index=True
    )
    total: Mapped[int] = mapped_column(Integer, default=0)  # contacts chosen
    done: Mapped[int] = mapped_column(Integer, default=0)  # contacts written
    size: Mapped[int] = mapped_column(Integer, default=0)  # bytes of the finished file
    message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    def __str__(self) -> str:
        return f"Export #{self.id}"

    @property
    def progress(self) -> int:
        if not self.total:
            return 100 if self.status == JobStatus.DONE else 0
        return min(100, round(100 * self.done / self.total))
