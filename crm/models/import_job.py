"""Imports of contact files, run as jobs, row by row recorded so that undo and resume are
exact (crm.services.transfer.importing)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db
from crm.models.base import LabeledEnum, enum_column, utcnow


class JobStatus(LabeledEnum):
    DRAFT = ("draft", "Being prepared (mapping)")
    QUEUED = ("queued", "Waiting to start")
    RUNNING = ("running", "Running")
    DONE = ("done", "Done")
    FAILED = ("failed", "Failed")
    UNDONE = ("undone", "Undone")


class DuplicateHandling(LabeledEnum):
    SKIP = ("skip", "Skip the row")
    FILL = ("fill", "Update the existing contact: fill its empty fields only")
    OVERWRITE = ("overwrite", "Update the existing contact: overwrite with the file's values")
    CREATE = ("create", "Create a new contact anyway")


class ImportJob(db.Model):
    """One upload and what became of it: its mapping and options, progress, counts and the
    rows in error. A dry run goes through every row and saves nothing."""

    __tablename__ = "import_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(100))  # under instance/imports/
    size: Mapped[int] = mapped_column(Integer, default=0)
    file_format: Mapped[str] = mapped_column(String(10))  # csv, xlsx, vcard
    details: Mapped[dict] = mapped_column(JSON, default=dict)  # encoding, delimiter, sheet
    column_set: Mapped[str | None] = mapped_column(String(60))  # recognised, e.g. "Outlook"
    mapping: Mapped[dict] = mapped_column(JSON, default=dict)  # targets.Mapping as JSON
    on_duplicate: Mapped[DuplicateHandling] = mapped_column(
        enum_column(DuplicateHandling, "duplicate_handling"), default=DuplicateHandling.SKIP
    )
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    # ISO country whose numbers the file's phones without a country code are (when the
    # row's address names none); None: CRM_DEFAULT_PHONE_REGION.
    phone_region: Mapped[str | None] = mapped_column(String(2))
    status: Mapped[JobStatus] = mapped_column(
        enum_column(JobStatus, "job_status"), default=JobStatus.DRAFT, index=True
    )
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    done_rows: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    # [{"row": 12, "field": "email", "message": "..."}], the first MAX_ERRORS of them.
    errors: Mapped[list] = mapped_column(JSON, default=list)
    message: Mapped[str | None] = mapped_column(Text)  # why the job failed
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Moved by the job after each batch: a running job whose heartbeat stopped was
    # interrupted (a restart) and is marked failed.
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    undone_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    def __str__(self) -> str:
        return f"Import #{self.id} ({self.filename})"

    @property
    def progress(self) -> int:
        """Percent of the rows gone through."""
        if not self.total_rows:
            return 100 if self.status == JobStatus.DONE else 0
        return min(100, round(100 * self.done_rows / self.total_rows))


class ImportedRow(db.Model):
    """What one row of a (real, not dry) import did, in the batch's transaction: what undo
    takes back and what a resumed job skips. No foreign key to contacts: a merge must not
    re-point it (undo would then touch the master)."""

    __tablename__ = "imported_rows"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("import_jobs.id", ondelete="CASCADE"))
    row_number: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(10))  # created, updated, skipped, failed
    contact_id: Mapped[int | None] = mapped_column(Integer)
    # The contact's version once the row was applied: undo leaves a contact changed since.
    version: Mapped[int | None] = mapped_column(Integer)
    # For an update: the contact's values before, and the child rows the import added.
    before: Mapped[dict | None] = mapped_column(JSON)

    __table_args__ = (
        Index("uq_imported_rows_job_id_row_number", "job_id", "row_number", unique=True),
    )


class SavedMapping(db.Model):
    """A user's column mapping kept for the next file with the same columns."""

    __tablename__ = "import_mappings"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    # A fingerprint of the header row (normalised headers, hashed): files like this one.
    headers_key: Mapped[str] = mapped_column(String(64))
    mapping: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        Index("uq_import_mappings_user_id_name", "user_id", "name", unique=True),
        Index("ix_import_mappings_user_id_headers_key", "user_id", "headers_key"),
    )

    def __str__(self) -> str:
        return self.name
