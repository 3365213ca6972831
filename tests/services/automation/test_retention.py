"""Retention in `run_due`: export files older than 7 days and the uploads of imports finished
more than 30 days ago are deleted, recent ones kept; one sweep an hour, whoever runs it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from crm.errors import DomainError
from crm.extensions import db
from crm.models import Contact, DoneWork, ExportJob, ImportJob, JobStatus
from crm.models.base import utcnow
from crm.services.automation import retention
from crm.services.automation.run_due import run_due
from crm.services.transfer import export_jobs
from crm.services.transfer.importing import jobs as import_jobs

CSV = b"First name,Last name,Email\nAna,Smith,ana@example.com\n"


def _export(actor) -> ExportJob:
    job = export_jobs.start_export(actor, select(Contact.id), "csv", "everyone")
    db.session.commit()
    export_jobs.run_export(job.id)
    db.session.expire_all()
    return db.session.get(ExportJob, job.id)


def _finished_import(actor, days_ago: int, status: JobStatus = JobStatus.DONE) -> ImportJob:
    job = import_jobs.create_job(actor, CSV, "people.csv")
    job.status = status
    job.finished_at = utcnow() - timedelta(days=days_ago)
    db.session.commit()
    return job


def _upload(job: ImportJob):
    return import_jobs._folder() / job.stored_name


def test_old_export_files_and_import_uploads_are_deleted_recent_ones_kept(manager, make_contact):
    make_contact(manager)
    old_export, new_export = _export(manager), _export(manager)
    old_export.finished_at = utcnow() - timedelta(days=8)
    new_export.finished_at = utcnow() - timedelta(days=6)
    old_import = _finished_import(manager, days_ago=31)
    failed_import = _finished_import(manager, days_ago=45, status=JobStatus.FAILED)
    recent_import = _finished_import(manager, days_ago=29)
    draft = import_jobs.create_job(manager, CSV, "draft.csv")  # never finished
    draft.created_at = utcnow() - timedelta(days=90)
    db.session.commit()
    files = {
        "old export": export_jobs.file_path(old_export),
        "new export": export_jobs.file_path(new_export),
        "old import": _upload(old_import),
        "failed import": _upload(failed_import),
        "recent import": _upload(recent_import),
        "draft": _upload(draft),
    }
    assert all(path.exists() for path in files.values())

    report = run_due(utcnow())
    assert not report.failed, report.lines()
    assert report.lines()[-1] == "Retention: 1 export file(s), 2 import upload(s) deleted"
    assert sorted(name for name, path in files.items() if path.exists()) == [
        "draft", "new export", "recent import",
    ]  # fmt: skip
    assert "deleted after 7 days" in db.session.get(ExportJob, old_export.id).message
    # A failed import whose file is gone cannot be resumed, and says why.
    with pytest.raises(DomainError, match="deleted 30 days after the import ended"):
        import_jobs.resume_job(manager, db.session.get(ImportJob, failed_import.id))


def test_an_upload_shared_with_a_recent_dry_run_is_kept(manager):
    job = _finished_import(manager, days_ago=40)
    trial = ImportJob(
        user_id=manager.id, filename=job.filename, stored_name=job.stored_name, size=job.size,
        file_format=job.file_format, details=dict(job.details), mapping=dict(job.mapping),
        dry_run=True, status=JobStatus.DONE, finished_at=utcnow() - timedelta(days=2),
    )  # fmt: skip
    db.session.add(trial)
    db.session.commit()
    assert import_jobs.delete_old_uploads() == 0 and _upload(job).exists()
    assert import_jobs.delete_old_uploads(utcnow() + timedelta(days=29)) == 1
    assert not _upload(job).exists()


def test_one_sweep_an_hour_and_old_claims_forgotten(manager, make_contact):
    now = utcnow()
    assert retention.sweep(now) is not None
    assert retention.sweep(now + timedelta(minutes=1)) is None or now.minute == 59
    db.session.add(DoneWork(key="digest:1:2000-01-01", done_at=now - timedelta(days=15)))
    db.session.commit()
    assert retention.sweep(now + timedelta(hours=1)) is not None
    keys = db.session.scalars(select(DoneWork.key)).all()
    assert "digest:1:2000-01-01" not in keys and retention.sweep_key(now) in keys
