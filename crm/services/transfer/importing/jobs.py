"""An import job's stored file and how the job starts: the upload kept and its mapping
proposed, saved mappings, the options, queueing it (or a dry run of it), and the jobs a
restart interrupted, marked failed and resumed."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta
from pathlib import Path

import phonenumbers
from flask import current_app
from sqlalchemy import select

from crm.auth.permissions import Actor, can
from crm.errors import DomainError, FieldError, PermissionDenied, ValidationFailed
from crm.extensions import db
from crm.models import DuplicateHandling, ImportJob, JobStatus, SavedMapping
from crm.models.base import utcnow
from crm.services.platform import validation as v
from crm.services.platform.local_time import as_utc
from crm.services.platform.storage import files_folder
from crm.services.transfer.importing import column_sets, sources
from crm.services.transfer.importing.limits import DEFAULT_LIMITS, Limits
from crm.services.transfer.importing.targets import Mapping

SAMPLES = 3  # first rows kept on the job for the mapping page
KEEP_UPLOADS_FOR = timedelta(days=30)  # a finished import's upload is kept this long
FINISHED = (JobStatus.DONE, JobStatus.FAILED, JobStatus.UNDONE)
SAMPLE_CHARS = 100  # of each of their cells
STALE_AFTER = timedelta(minutes=2)  # a running job silent this long was interrupted


# ---- the stored file -----------------------------------------------------------------------
def _folder() -> Path:
    return files_folder("imports")


def _path(job: ImportJob) -> Path:
    return _folder() / job.stored_name


def headers_key(headers: list[str]) -> str:
    """A fingerprint of a header row: files with the same columns share saved mappings."""
    normal = "\x1f".join(" ".join(h.split()).casefold() for h in headers)
    return hashlib.sha256(normal.encode("utf-8")).hexdigest()


def import_limits() -> Limits:
    """What an imported file may hold, from the CRM_IMPORT_MAX_* settings."""
    config = current_app.config
    return Limits(
        columns=config.get("CRM_IMPORT_MAX_COLUMNS", DEFAULT_LIMITS.columns),
        rows=config.get("CRM_IMPORT_MAX_ROWS", DEFAULT_LIMITS.rows),
        cell=config.get("CRM_IMPORT_MAX_CELL", DEFAULT_LIMITS.cell),
        vcard_properties=config.get(
            "CRM_IMPORT_MAX_VCARD_PROPERTIES", DEFAULT_LIMITS.vcard_properties
        ),
    )


def read_job_source(job: ImportJob) -> sources.Source:
    return sources.read_source(
        _path(job).read_bytes(),
        job.filename,
        sheet=(job.details or {}).get("sheet"),
        max_bytes=max(job.size, 1),
        limits=import_limits(),
    )


def job_headers(job: ImportJob) -> list[str]:
    return list((job.details or {}).get("headers") or read_job_source(job).headers)


# ---- starting -------------------------------------------------------------------------------
def create_job(
    actor: Actor,
    data: bytes,
    filename: str,
    *,
    sheet: str | None = None,
) -> ImportJob:
    """Keep the upload and propose a mapping; raises SourceError for a file that cannot be
    read (nothing is kept then)."""
    if not can(actor, "contact.import"):
        raise PermissionDenied("You do not have permission to import contacts.")
    limit = current_app.config.get("CRM_IMPORT_MAX_BYTES", sources.MAX_BYTES)
    source = sources.read_source(
        data, filename, sheet=sheet, max_bytes=limit, limits=import_limits()
    )
    stored = f"{uuid.uuid4().hex}{Path(filename).suffix.lower()[:10]}"
    mapping, column_set = propose_mapping(actor, source.headers)
    job = ImportJob(
        user_id=getattr(actor, "id", None),
        filename=Path(filename).name[:255] or "upload",
        stored_name=stored,
        size=len(data),
        file_format=source.format,
        # Kept, so that the mapping page does not read the file again (a big workbook
        # takes seconds): its header, size and first rows (their first characters: the
        # page shows 80 of each cell). The limits bound the header.
        details={
            **source.details,
            "summary": source.summary,
            "headers": source.headers,
            "row_count": source.row_count,
            "samples": [
                [cell[:SAMPLE_CHARS] for cell in row.cells] for row in source.preview(SAMPLES)
            ],
        },
        column_set=column_set,
        mapping=mapping.as_json(),
    )
    (_folder() / stored).write_bytes(data)
    db.session.add(job)
    db.session.flush()
    return job


def propose_mapping(actor: Actor, headers: list[str]) -> tuple[Mapping, str | None]:
    """The user's saved mapping for these columns, else a known column set, else a guess."""
    saved = db.session.scalar(
        select(SavedMapping)
        .where(
            SavedMapping.user_id == getattr(actor, "id", None),
            SavedMapping.headers_key == headers_key(headers),
        )
        .order_by(SavedMapping.id.desc())
        .limit(1)
    )
    if saved is not None:
        return Mapping.from_json(saved.mapping), f"saved: {saved.name}"
    known = column_sets.recognise(headers)
    if known is not None:
        return known.mapping, known.name
    return column_sets.guess_mapping(headers), None


def save_mapping(actor: Actor, job: ImportJob, name: str) -> SavedMapping:
    """Keep the job's mapping under `name` for the next file with the same columns."""
    name = " ".join((name or "").split())[:100]
    if not name:
        raise ValidationFailed({"mapping_name": ["Give the mapping a name."]})
    headers = job_headers(job)
    saved = db.session.scalar(
        select(SavedMapping).where(SavedMapping.user_id == job.user_id, SavedMapping.name == name)
    ) or SavedMapping(user_id=job.user_id, name=name)
    saved.headers_key = headers_key(headers)
    saved.mapping = dict(job.mapping)
    db.session.add(saved)
    db.session.flush()
    return saved


def set_options(
    actor: Actor,
    job: ImportJob,
    mapping: Mapping,
    on_duplicate: DuplicateHandling,
    *,
    dry_run: bool,
    phone_region: str | None = None,
) -> None:
    """Fix what the job will do before it is queued. `phone_region`: the country (a code or
    a name) of the numbers written without a country code; None for the app's default."""
    _own(actor, job)
    if job.status != JobStatus.DRAFT:
        raise DomainError("This import has started: start a new one to change its mapping.")
    headers = job_headers(job)
    if len(mapping.columns) != len(headers):
        raise ValidationFailed({"mapping": ["Map every column of the file (or ignore it)."]})
    chosen = {str(t) for t in mapping.targets()}
    if not ({"first_name", "last_name"} <= chosen or "full_name" in chosen):
        raise ValidationFailed(
            {"mapping": ["Map the first and last name columns (or a full name column)."]}
        )
    try:
        region = v.clean_country(phone_region)
    except FieldError as exc:
        raise ValidationFailed({"phone_region": [str(exc)]}) from None
    if region and not phonenumbers.country_code_for_region(region):
        raise ValidationFailed({"phone_region": [f"{region} has no telephone numbers of its own."]})
    job.mapping = mapping.as_json()
    job.on_duplicate = on_duplicate
    job.dry_run = dry_run
    job.phone_region = region


def start(
    actor: Actor,
    job: ImportJob,
    mapping: Mapping,
    on_duplicate: DuplicateHandling,
    *,
    dry_run: bool,
    phone_region: str | None = None,
) -> ImportJob:
    """Queue the import, or a dry run of it (a job of its own on the same file, so that the
    import itself can follow with the same mapping). The caller commits, then submits the
    returned job: `jobs.submit(run_job, job)` (crm.services.platform.jobs)."""
    set_options(actor, job, mapping, on_duplicate, dry_run=False, phone_region=phone_region)
    if not dry_run:
        job.status = JobStatus.QUEUED
        return job
    trial = ImportJob(
        user_id=job.user_id,
        filename=job.filename,
        stored_name=job.stored_name,
        size=job.size,
        file_format=job.file_format,
        details=dict(job.details),
        column_set=job.column_set,
        mapping=mapping.as_json(),
        on_duplicate=on_duplicate,
        dry_run=True,
        phone_region=job.phone_region,
        status=JobStatus.QUEUED,
    )
    db.session.add(trial)
    db.session.flush()
    return trial


def dry_runs_of(job: ImportJob) -> list[ImportJob]:
    """The dry runs made for this upload, newest first."""
    return list(
        db.session.scalars(
            select(ImportJob)
            .where(
                ImportJob.stored_name == job.stored_name,
                ImportJob.dry_run.is_(True),
                ImportJob.id != job.id,
            )
            .order_by(ImportJob.id.desc())
        )
    )


def _own(actor: Actor, job: ImportJob) -> None:
    if not can(actor, "contact.import") or job.user_id != getattr(actor, "id", None):
        raise PermissionDenied("This import is not yours.")


# ---- jobs a restart interrupted -------------------------------------------------------------
def fail_interrupted() -> int:
    """Mark failed the running jobs whose heartbeat stopped (the process running them ended):
    whole batches were applied, and the job says how far it got. Returns how many."""
    stale = utcnow() - STALE_AFTER
    jobs = db.session.scalars(
        select(ImportJob).where(
            ImportJob.status == JobStatus.RUNNING, ImportJob.heartbeat_at < stale
        )
    ).all()
    for job in jobs:
        job.status = JobStatus.FAILED
        job.message = (
            f"Interrupted after {job.done_rows} of {job.total_rows} rows (the server "
            "restarted). Every row counted was applied; resume to import the rest."
        )
        job.finished_at = utcnow()
    lost = _lost_in_queue(stale)
    for job in lost:
        job.status = JobStatus.FAILED
        job.message = "Not started: the server restarted before it ran. " + (
            "Start the dry run again." if job.dry_run else "Resume to run it."
        )
        job.finished_at = utcnow()
    if jobs or lost:
        db.session.commit()
    return len(jobs) + len(lost)


def _lost_in_queue(stale) -> list[ImportJob]:
    """Queued jobs a restart dropped: with in-process jobs ("thread"), a job queued for a
    while when none is running was in the queue of a process that ended."""
    if current_app.config.get("CRM_JOB_QUEUE", "thread") != "thread":
        return []  # a Redis queue outlives restarts; inline jobs are never queued
    running = db.session.scalar(
        select(ImportJob.id)
        .where(ImportJob.status == JobStatus.RUNNING, ImportJob.heartbeat_at >= stale)
        .limit(1)
    )
    if running is not None:
        return []
    return list(
        db.session.scalars(
            select(ImportJob).where(
                ImportJob.status == JobStatus.QUEUED, ImportJob.created_at < stale
            )
        )
    )


def resume_job(actor: Actor, job: ImportJob) -> None:
    """Queue a failed job again: it goes on after the rows it applied."""
    _own(actor, job)
    if job.status != JobStatus.FAILED or job.dry_run:
        raise DomainError("Only a failed import can be resumed (start a dry run again).")
    if not _path(job).exists():
        raise DomainError(
            f"The uploaded file was deleted {KEEP_UPLOADS_FOR.days} days after the import "
            "ended: import the file again (contacts it already created are found as duplicates)."
        )
    job.status = JobStatus.QUEUED
    job.message = None
    job.finished_at = None


# ---- old uploads -----------------------------------------------------------------------------
def delete_old_uploads(now=None) -> int:
    """Delete the uploaded files of imports finished more than KEEP_UPLOADS_FOR ago (every
    job using the file, its dry runs too, finished that long ago); returns how many files.
    A failed import whose file is gone can no longer be resumed (resume_job says so)."""
    limit = (now or utcnow()) - KEEP_UPLOADS_FOR
    rows = db.session.execute(
        select(
            ImportJob.stored_name, ImportJob.status, ImportJob.finished_at, ImportJob.undone_at
        ).where(
            ImportJob.stored_name.in_(
                select(ImportJob.stored_name).where(
                    ImportJob.status.in_(FINISHED), ImportJob.finished_at < limit
                )
            )
        )
    ).all()
    keep: set[str] = set()
    names: set[str] = set()
    for name, status, finished_at, undone_at in rows:
        names.add(name)
        ends = [as_utc(moment) for moment in (finished_at, undone_at) if moment is not None]
        if status not in FINISHED or not ends or max(ends) >= as_utc(limit):
            keep.add(name)
    deleted = 0
    for name in sorted(names - keep):
        path = _folder() / name
        if path.parent == _folder() and path.exists():
            path.unlink(missing_ok=True)
            deleted += 1
    return deleted
