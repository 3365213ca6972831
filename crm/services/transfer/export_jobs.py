"""Large exports as background jobs: asked for from a list (its filters or the selection),
written to a file under `instance/exports/` by the job runner (crm.services.platform.jobs), with
progress, and downloaded from the job's page by the user who asked for it.

- `start_export` fixes which contacts the export holds (the ids, in `export_items`, at the
  moment it is asked for: later changes to the list do not move it) and records the export
  in the history, as a download does.
- `run_export` writes the file with crm.services.transfer.exporting (visibility applies
  again when it runs: a contact the user may no longer see is left out), moving the job's
  progress through a connection of its own (the export reads on a streaming cursor that must
  stay open).
- A job whose process ended is marked failed (`fail_interrupted`); finished files are
  deleted after KEEP_FOR (`delete_old_files`).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import delete, literal, select, update

from crm.auth.permissions import Actor, can
from crm.errors import DomainError, PermissionDenied
from crm.extensions import db
from crm.models import ExportJob, JobStatus, User, export_items
from crm.models.base import utcnow
from crm.services.platform.counted_insert import insert_counted
from crm.services.platform.storage import files_folder
from crm.services.transfer import exporting

KEEP_FOR = timedelta(days=7)  # a finished file is kept this long
STALE_AFTER = timedelta(minutes=2)  # a running job silent this long was interrupted
BACKGROUND_FROM = 10_000  # exports of more contacts run as jobs (CRM_EXPORT_BACKGROUND_FROM)


def runs_in_background(total: int) -> bool:
    """Whether an export of `total` contacts is a job rather than a download at once."""
    return total > current_app.config.get("CRM_EXPORT_BACKGROUND_FROM", BACKGROUND_FROM)


def folder() -> Path:
    return files_folder("exports")


def file_path(job: ExportJob) -> Path:
    return folder() / job.stored_name


def start_export(actor: Actor, target, file_format: str, described: str) -> ExportJob:
    """Queue an export of the contacts `target` (a select of ids) holds that `actor` sees.
    The caller commits, then submits it: `jobs.submit(run_export, job)`."""
    if not can(actor, "contact.export"):
        raise PermissionDenied("You do not have permission to export contacts.")
    if file_format not in exporting.FORMATS:
        raise DomainError(f"No such export format: {file_format!r}.")
    total = exporting.record_export(actor, target, file_format, described)
    job = ExportJob(
        user_id=getattr(actor, "id", None),
        file_format=file_format,
        described=described[:500],
        stored_name=f"{uuid.uuid4().hex}.{exporting.FORMATS[file_format].key}",
        status=JobStatus.QUEUED,
        total=total,
    )
    db.session.add(job)
    db.session.flush()
    ids = exporting.exported_ids(actor, target)
    insert_counted(
        export_items,
        ["job_id", "contact_id"],
        select(literal(job.id), ids.subquery().c.id),
    )
    return job


def run_export(job_id: int) -> None:
    """Write the job's file (called by the job runner, in the app context)."""
    job = db.session.get(ExportJob, job_id)
    if job is None or job.status != JobStatus.QUEUED:
        return
    actor = db.session.get(User, job.user_id) if job.user_id else None
    if actor is None or not can(actor, "contact.export"):
        _fail(job, "The user who asked for this export may no longer export contacts.")
        return
    job.status = JobStatus.RUNNING
    job.started_at = job.heartbeat_at = utcnow()
    db.session.commit()
    target = select(export_items.c.contact_id).where(export_items.c.job_id == job.id)
    path = file_path(job)
    partial = path.with_suffix(path.suffix + ".part")
    done = 0

    def progress(written: int) -> None:
        nonlocal done
        done += written
        with db.engine.begin() as connection:  # not the session: its cursor is streaming
            connection.execute(
                update(ExportJob.__table__)
                .where(ExportJob.id == job_id)
                .values(done=done, heartbeat_at=utcnow())
            )

    try:
        with partial.open("wb") as out:
            exporting.write(actor, target, job.file_format, out, progress=progress)
        db.session.rollback()  # end the export's read before writing the result
        partial.replace(path)
    except Exception as exc:  # noqa: BLE001 - any failure ends the job, with its progress
        db.session.rollback()
        partial.unlink(missing_ok=True)
        _fail(db.session.get(ExportJob, job_id), f"Stopped after {done:,} contacts: {exc}")
        return
    job = db.session.get(ExportJob, job_id)
    job.status = JobStatus.DONE
    job.done = done
    job.size = path.stat().st_size
    job.finished_at = utcnow()
    db.session.execute(delete(export_items).where(export_items.c.job_id == job.id))
    db.session.commit()


def _fail(job: ExportJob | None, message: str) -> None:
    if job is None:
        return
    job.status = JobStatus.FAILED
    job.message = message[:2000]
    job.finished_at = utcnow()
    db.session.execute(delete(export_items).where(export_items.c.job_id == job.id))
    db.session.commit()


def jobs_of(actor: Actor, limit: int = 50) -> list[ExportJob]:
    """The actor's exports (everyone's for those with job.view_all), newest first."""
    query = select(ExportJob).order_by(ExportJob.id.desc()).limit(limit)
    if not can(actor, "job.view_all"):
        query = query.where(ExportJob.user_id == getattr(actor, "id", None))
    return list(db.session.scalars(query))


def job_of(actor: Actor, job_id: int, *, follow: bool = False) -> ExportJob | None:
    """The actor's export job `job_id`; with `follow`, anyone's for those with job.view_all
    (to follow it: its file stays with the user who asked for it). None otherwise."""
    job = db.session.get(ExportJob, job_id)
    if job is None or not can(actor, "contact.export"):
        return None
    mine = job.user_id == getattr(actor, "id", None)
    if not mine and not (follow and can(actor, "job.view_all")):
        return None
    return job


def download_path(job: ExportJob) -> Path | None:
    """The finished file, or None when the job has none (yet, or any more)."""
    path = file_path(job)
    return path if job.status == JobStatus.DONE and path.exists() else None


def fail_interrupted() -> int:
    """Mark failed the exports whose process ended (running with a stopped heartbeat, or
    queued long ago while none runs); returns how many."""
    stale = utcnow() - STALE_AFTER
    jobs = list(
        db.session.scalars(
            select(ExportJob).where(
                ExportJob.status == JobStatus.RUNNING, ExportJob.heartbeat_at < stale
            )
        )
    )
    if current_app.config.get("CRM_JOB_QUEUE", "thread") == "thread":
        running = db.session.scalar(
            select(ExportJob.id).where(
                ExportJob.status == JobStatus.RUNNING, ExportJob.heartbeat_at >= stale
            )
        )
        if running is None:
            jobs += db.session.scalars(
                select(ExportJob).where(
                    ExportJob.status == JobStatus.QUEUED, ExportJob.created_at < stale
                )
            )
    for job in jobs:
        file_path(job).with_suffix(file_path(job).suffix + ".part").unlink(missing_ok=True)
        _fail(job, "Interrupted (the server restarted): export again.")
    return len(jobs)


def delete_old_files(now=None) -> int:
    """Delete the files of exports finished more than KEEP_FOR ago; returns how many."""
    limit = (now or utcnow()) - KEEP_FOR
    old = db.session.scalars(
        select(ExportJob).where(
            ExportJob.status == JobStatus.DONE,
            ExportJob.finished_at < limit,
            ExportJob.size > 0,
        )
    ).all()
    for job in old:
        file_path(job).unlink(missing_ok=True)
        job.size = 0
        job.message = f"The file was deleted after {KEEP_FOR.days} days: export again."
    if old:
        db.session.commit()
    return len(old)
