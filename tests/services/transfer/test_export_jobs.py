"""Large exports as background jobs: the contacts fixed when asked for, the file written with
progress, visibility applied, failures and interruptions, old files deleted."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from crm.errors import PermissionDenied
from crm.extensions import db
from crm.models import AuditEntry, Contact, ExportJob, JobStatus, export_items
from crm.models.base import utcnow
from crm.services.contacts.trash import delete_contact
from crm.services.transfer import export_jobs
from crm.services.transfer.importing.targets import restore_neutralised


def _export(actor, file_format="csv", target=None) -> ExportJob:
    job = export_jobs.start_export(
        actor, target if target is not None else select(Contact.id), file_format, "everyone"
    )
    db.session.commit()
    export_jobs.run_export(job.id)
    db.session.expire_all()
    return db.session.get(ExportJob, job.id)


def _last_names(job: ExportJob) -> list[str]:
    text = export_jobs.download_path(job).read_text(encoding="utf-8-sig")
    return sorted(restore_neutralised(r["Last name"]) for r in csv.DictReader(io.StringIO(text)))


def test_the_job_writes_the_contacts_fixed_when_it_was_asked_for(manager, make_contact):
    for name in ("Able", "Baker", "Cole"):
        make_contact(manager, first_name="Ann", last_name=name)
    job = export_jobs.start_export(manager, select(Contact.id), "csv", "everyone")
    db.session.commit()
    make_contact(manager, first_name="Late", last_name="Comer")  # after it was asked for
    assert job.status == JobStatus.QUEUED and job.total == 3
    export_jobs.run_export(job.id)
    db.session.expire_all()
    job = db.session.get(ExportJob, job.id)
    assert job.status == JobStatus.DONE and (job.done, job.total) == (3, 3) and job.progress == 100
    assert _last_names(job) == ["Able", "Baker", "Cole"]
    assert job.size == export_jobs.download_path(job).stat().st_size > 0
    assert db.session.scalar(select(func.count()).select_from(export_items)) == 0  # emptied
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "export"))
    assert entry.changes["count"] == 3 and entry.changes["target"] == "everyone"


def test_a_contact_trashed_before_the_job_runs_is_left_out(manager, make_contact):
    keep = make_contact(manager, first_name="Keep", last_name="Me")
    gone = make_contact(manager, first_name="Gone", last_name="Soon")
    job = export_jobs.start_export(manager, select(Contact.id), "csv", "everyone")
    db.session.commit()
    delete_contact(manager, gone)
    db.session.commit()
    export_jobs.run_export(job.id)
    db.session.expire_all()
    job = db.session.get(ExportJob, job.id)
    assert _last_names(job) == [keep.last_name] and job.done == 1


@pytest.mark.parametrize("file_format, start", [("xlsx", b"PK"), ("vcf", b"BEGIN:VCARD")])
def test_every_format_can_run_as_a_job(manager, make_contact, file_format, start):
    make_contact(manager, first_name="Zoë", last_name="Ærø")
    job = _export(manager, file_format)
    assert job.status == JobStatus.DONE
    assert export_jobs.download_path(job).read_bytes().startswith(start)
    assert export_jobs.download_path(job).suffix == f".{file_format}"


def test_only_exporters_start_and_run_exports(make_user, manager, make_contact):
    make_contact(manager)
    with pytest.raises(PermissionDenied):
        export_jobs.start_export(make_user("crm_sales"), select(Contact.id), "csv", "all")
    job = export_jobs.start_export(manager, select(Contact.id), "csv", "everyone")
    manager.roles = []  # lost the right before the job ran
    db.session.commit()
    export_jobs.run_export(job.id)
    db.session.expire_all()
    job = db.session.get(ExportJob, job.id)
    assert job.status == JobStatus.FAILED and "may no longer export" in job.message
    assert export_jobs.download_path(job) is None


def test_a_failing_export_leaves_no_half_written_file(manager, make_contact, monkeypatch):
    make_contact(manager)

    def breaks(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(export_jobs.exporting, "write", breaks)
    job = _export(manager)
    assert job.status == JobStatus.FAILED and "disk full" in job.message
    assert list(export_jobs.folder().iterdir()) == []


def test_interrupted_jobs_are_marked_failed(manager, make_contact):
    make_contact(manager)
    running = export_jobs.start_export(manager, select(Contact.id), "csv", "a")
    running.status = JobStatus.RUNNING
    running.heartbeat_at = utcnow() - export_jobs.STALE_AFTER * 2
    queued = export_jobs.start_export(manager, select(Contact.id), "csv", "b")
    queued.created_at = utcnow() - export_jobs.STALE_AFTER * 2
    db.session.commit()
    assert export_jobs.fail_interrupted() == 2
    assert {running.status, queued.status} == {JobStatus.FAILED}
    assert "export again" in running.message


def test_files_are_deleted_after_a_week(manager, make_contact):
    make_contact(manager)
    job = _export(manager)
    path = export_jobs.download_path(job)
    assert export_jobs.delete_old_files(now=utcnow() + timedelta(days=6)) == 0 and path.exists()
    assert export_jobs.delete_old_files(now=utcnow() + timedelta(days=8)) == 1
    assert not path.exists() and export_jobs.download_path(job) is None
    assert "deleted after 7 days" in job.message
