"""Imports as jobs: start one from an upload, run it in batches, undo it.

- `create_job` keeps the uploaded file under `instance/imports/` (a generated name), reads
  its header (a file that cannot be read is refused before any job exists) and proposes
  the mapping: a saved one for files with these columns, a known column set (Google,
  Outlook, ours), or a guess from the header names.
- `run_job` goes through the rows in batches of BATCH; each batch is one transaction that
  also records, per row, what it did (`ImportedRow`) and moves the job's counters, so a job
  interrupted by a restart has applied whole batches only: it is marked failed with its
  counts (`fail_interrupted`), and resuming skips the rows already recorded.
- Each row: its cells are read (`rows.RowReader`) and checked by the contact rules
  (crm.services.contacts.batch, the form's checks on plain values); the batch's rows are
  looked up together by the duplicate keys (the same email, phone, or name key in the same
  company or among consumers; a CRM id names its contact), rows earlier in the same file
  included; then, as the user chose: skip the row, fill the existing contact's empty
  fields, overwrite them (per row, through the ORM rules, in a savepoint), or create a new
  contact anyway. The new contacts of a batch are inserted together.
- A dry run does all of that and keeps nothing: every batch is rolled back, and the file's
  rows are remembered by their duplicate keys only.
- `undo_import` deletes the contacts the import created (in bulk) and puts back what it
  changed in the contacts it updated, leaving (and counting) those changed since by
  someone else.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import phonenumbers
from flask import current_app
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from crm.auth.permissions import Actor, can
from crm.errors import DomainError, FieldError, PermissionDenied, ValidationFailed
from crm.extensions import db
from crm.models import (
    Account,
    Address,
    AddressType,
    AuditEntry,
    Contact,
    ContactKind,
    DuplicateHandling,
    ImportedRow,
    ImportJob,
    JobStatus,
    Phone,
    PhoneType,
    SavedMapping,
    SocialLink,
    SocialPlatform,
    User,
)
from crm.models.base import utcnow
from crm.services.contacts.batch import ContactBatch, NewContact, begin_for_savepoints
from crm.services.contacts.details import live_rows, phone_region
from crm.services.contacts.saving import (
    create_contact,
    lookup_by_name,
    refresh_derived_fields,
    save_contact,
)
from crm.services.lists.tags import tags_for_names
from crm.services.merge.engine import from_json, merge_key
from crm.services.platform import audit
from crm.services.platform import validation as v
from crm.services.platform.access import contact_visibility
from crm.services.platform.storage import files_folder
from crm.services.transfer.importing import column_sets, sources
from crm.services.transfer.importing.limits import DEFAULT_LIMITS, Limits
from crm.services.transfer.importing.rows import RowReader
from crm.services.transfer.importing.targets import Mapping

BATCH = 1000  # rows per transaction
SAMPLES = 3  # first rows kept on the job for the mapping page
SAMPLE_CHARS = 100  # of each of their cells
MAX_ERRORS = 1000  # rows in error kept on the job (all are counted)
STALE_AFTER = timedelta(minutes=2)  # a running job silent this long was interrupted
CHILDREN = ("phones", "addresses", "social_links")
# Contact fields an update may fill or overwrite (the rest are decided by the rules).
UPDATABLE = (
    "title", "first_name", "middle_name", "last_name", "job_title", "department", "email",
    "email_secondary", "website", "birthday", "gender", "customer_status", "prospect_status",
    "contact_preference", "email_marketing", "do_not_email", "do_not_call", "timezone",
    "language", "notes", "other_contacts",
)  # fmt: skip


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


# ---- running --------------------------------------------------------------------------------
def run_job(job_id: int) -> None:
    """Run (or resume) a queued job to the end. Called by the job runner, in the app context;
    commits batch by batch."""
    job = db.session.get(ImportJob, job_id)
    if job is None or job.status not in (JobStatus.QUEUED, JobStatus.RUNNING):
        return
    actor = db.session.get(User, job.user_id) if job.user_id else None
    if actor is None or not can(actor, "contact.import"):
        _fail(job, "The user who started this import may no longer import contacts.")
        return
    try:
        source = read_job_source(job)
    except (DomainError, OSError) as exc:
        _fail(job, f"The file cannot be read any more: {exc}")
        return
    job.status = JobStatus.RUNNING
    job.started_at = job.started_at or utcnow()
    job.heartbeat_at = utcnow()
    job.total_rows = job.total_rows or source.row_count
    db.session.commit()
    done = set(
        db.session.scalars(select(ImportedRow.row_number).where(ImportedRow.job_id == job.id))
    )
    reader = _reader(job, Mapping.from_json(job.mapping), source.headers)
    maker = ContactBatch(actor)
    # The rows this import creates, by their duplicate keys: a later row that is the same
    # person is a duplicate of it (dry runs keep them all; real runs the batch's own).
    seen: dict[int, NewContact] = {}
    batch: list[tuple[int, list[str]]] = []
    try:
        for number, cells in _rows(source):
            if number in done:
                continue
            batch.append((number, cells))
            if len(batch) >= BATCH:
                _run_batch(job, actor, reader, maker, batch, seen)
                batch = []
        if batch:
            _run_batch(job, actor, reader, maker, batch, seen)
    except Exception as exc:  # noqa: BLE001 - any failure ends the job, with its counts
        db.session.rollback()
        job = db.session.get(ImportJob, job_id)
        _fail(job, f"Stopped after {job.done_rows} rows: {exc}")
        return
    job.status = JobStatus.DONE
    job.finished_at = utcnow()
    audit.record_event(
        db.session,
        actor,
        "import",
        "import_job",
        f"{'Dry run of' if job.dry_run else 'Imported'} {job.filename}: {job.created} created, "
        f"{job.updated} updated, {job.skipped} skipped, {job.failed} with errors",
        {"created": job.created, "updated": job.updated, "skipped": job.skipped,
         "failed": job.failed, "dry_run": job.dry_run},
        entity_id=job.id,
        # In the history of every contact it created or updated.
        contact_ids=None if job.dry_run else select(ImportedRow.contact_id).where(
            ImportedRow.job_id == job.id, ImportedRow.contact_id.is_not(None),
            ImportedRow.action.in_(("created", "updated")),
        ),
    )  # fmt: skip
    db.session.commit()


def _reader(job: ImportJob, mapping: Mapping, headers: list[str]) -> RowReader:
    return RowReader(
        mapping,
        headers,
        us_dates=job.column_set == "Outlook",
        own_csv=job.file_format == "csv" and job.column_set == column_sets.OWN_EXPORT,
        phone_region=job.phone_region,
    )


def _rows(source: sources.Source) -> Iterator[tuple[int, list[str]]]:
    yield from source.rows()


@dataclass
class _Outcome:
    """What one row did (kept as an ImportedRow by a real import)."""

    number: int
    action: str  # created, updated, skipped, failed
    item: NewContact | None = None  # a contact this import creates (its id comes later)
    contact_id: int | None = None
    version: int | None = None
    before: dict | None = None
    problems: list[tuple[str, str]] = field(default_factory=list)


def _run_batch(
    job: ImportJob,
    actor: User,
    reader: RowReader,
    maker: ContactBatch,
    batch: list[tuple[int, list[str]]],
    seen: dict[int, NewContact],
) -> None:
    """One transaction: check the batch's rows, look their duplicates up together, update
    the existing contacts they match (each in a savepoint), insert the new ones together."""
    begin_for_savepoints()
    audit.note_actor(db.session, actor)
    db.session.info.pop("import_lookups", None)  # look-ups are remembered per batch
    outcomes: list[_Outcome] = []
    items: list[tuple[NewContact, dict, int | None]] = []
    for number, cells in batch:
        row = reader.read(cells)
        if row.problems:
            outcomes.append(_Outcome(number, "failed", problems=row.problems))
            continue
        data = dict(row.data)
        if "account" in data and "kind" not in data:
            data["kind"] = ContactKind.B2B
        try:
            item = maker.prepare(number, data)
        except ValidationFailed as exc:
            region = maker.region_of_match(data, exc)
            try:
                item = maker.prepare(number, data, region) if region else None
            except DomainError:
                item = None
            if item is None:
                outcomes.append(_Outcome(number, "failed", problems=_problems(exc)))
                continue
        except DomainError as exc:
            outcomes.append(_Outcome(number, "failed", problems=_problems(exc)))
            continue
        items.append((item, row.data, row.crm_id))
    matches = maker.existing([item for item, _data, _crm_id in items])
    named = _named_contacts(actor, [crm_id for _item, _data, crm_id in items if crm_id])
    if not job.dry_run:
        seen.clear()  # earlier batches are in the database: `existing` finds them
    found = {
        item.number: named.get(crm_id) or matches.get(item.number) for item, _d, crm_id in items
    }
    quiet: set[int] = set()  # rows matching a contact that they would not change
    if job.on_duplicate in (DuplicateHandling.FILL, DuplicateHandling.OVERWRITE):
        quiet = maker.brings_nothing_new(
            [(item, found[item.number]) for item, _d, _c in items if found[item.number]],
            UPDATABLE,
            overwrite=job.on_duplicate == DuplicateHandling.OVERWRITE,
        )
    # Held for the batch: the session keeps loaded objects only while something refers to them.
    loaded = _load_for_update(  # noqa: F841 - kept alive on purpose
        [found[n] for n in found if found[n] and n not in quiet], job
    )
    creates: list[NewContact] = []
    added: list[int] = []  # the keys this batch put in `seen`
    for item, data, _crm_id in items:
        outcome = _decide(job, actor, item, data, found[item.number], seen, quiet)
        if outcome.action == "created":
            creates.append(item)
            for key in map(hash, item.duplicate_keys()):
                if key not in seen:
                    seen[key] = item
                    added.append(key)
        outcomes.append(outcome)
    if job.dry_run:
        db.session.rollback()
        job = db.session.get(ImportJob, job.id)
        # Kept for the rest of the file, the rows themselves not: a dry run of a big file
        # holds a number per key, not the contacts.
        for key in added:
            seen[key] = _EARLIER_ROW
    else:
        maker.insert(creates)
        db.session.flush()
        _keep_outcomes(job, outcomes)
    _count(job, outcomes)
    job.heartbeat_at = utcnow()
    db.session.commit()


def _lookup(model: type, name: str | None):
    """lookup_by_name, remembered for the transaction (an update of many contacts would
    otherwise ask for the same few types once per row)."""
    memo = db.session.info.setdefault("import_lookups", {})
    key = (model, (name or "").strip().casefold())
    if key not in memo:
        memo[key] = lookup_by_name(model, name)
    return memo[key]


def _load_for_update(ids: list[int], job: ImportJob) -> list[Contact]:
    """Load the contacts the batch will update, with what an update reads (their phones,
    addresses, links, tags, categories and account), in a few queries rather than several
    per contact; they stay in the session for `_update`."""
    if not ids or job.on_duplicate not in (DuplicateHandling.FILL, DuplicateHandling.OVERWRITE):
        return []
    return db.session.scalars(
        select(Contact)
        .where(Contact.id.in_(sorted(set(ids))))
        .options(
            selectinload(Contact.phones),
            selectinload(Contact.addresses),
            selectinload(Contact.social_links),
            selectinload(Contact.tags),
            selectinload(Contact.categories),
            selectinload(Contact.account),
        )
    ).all()


def _named_contacts(actor: User, ids: list[int]) -> dict[int, int]:
    """The contacts the rows' CRM ids name, among those the actor may see."""
    if not ids:
        return {}
    found = db.session.scalars(
        select(Contact.id).where(Contact.id.in_(ids), contact_visibility(actor, use_index=False))
    )
    return {contact_id: contact_id for contact_id in found}


def _decide(
    job: ImportJob,
    actor: User,
    item: NewContact,
    data: dict,
    existing_id: int | None,
    seen: dict[int, NewContact],
    quiet: set[int],
) -> _Outcome:
    """Create the row's contact, or, when it matches an existing contact (or an earlier row
    of the file), skip it, update that contact or create it anyway, as the user chose. A
    row that would change nothing in the contact it matches is skipped: the contact keeps
    its version and gets no history entry (re-importing a file changes nothing)."""
    how = job.on_duplicate
    earlier = None
    if existing_id is None:
        earlier = next((seen[h] for k in item.duplicate_keys() if (h := hash(k)) in seen), None)
    if how == DuplicateHandling.CREATE or (existing_id is None and earlier is None):
        return _Outcome(item.number, "created", item=item, version=1)
    if how == DuplicateHandling.SKIP or (existing_id is not None and item.number in quiet):
        return _Outcome(item.number, "skipped", item=earlier, contact_id=existing_id)
    if earlier is not None:  # a row of this import: the two rows become one contact
        earlier.absorb(item, overwrite=how == DuplicateHandling.OVERWRITE)
        return _Outcome(item.number, "updated", item=earlier, version=1, before=SAME_IMPORT)
    contact = db.session.get(Contact, existing_id)
    if contact is None:  # deleted since the batch looked it up
        return _Outcome(item.number, "failed", problems=[("", CHANGED_MEANWHILE)])
    data = dict(data)
    tag_names = data.pop("tags", [])
    savepoint = db.session.begin_nested()
    try:
        before = _update(actor, contact, data, tag_names, how)
    except DomainError as exc:
        savepoint.rollback()
        return _Outcome(item.number, "failed", problems=_problems(exc))
    except StaleDataError:
        # Someone saved (or deleted) the contact after the batch loaded it: its version no
        # longer matches. Only this row's savepoint is undone; the rest of the batch goes on.
        savepoint.rollback()
        return _Outcome(item.number, "failed", problems=[("", CHANGED_MEANWHILE)])
    savepoint.commit()
    return _Outcome(item.number, "updated", contact_id=contact.id, version=contact.version,
                    before=before)  # fmt: skip


class _EarlierRow(NewContact):
    """Stands for a row of an earlier batch of a dry run, which nothing keeps."""

    def __init__(self) -> None:
        super().__init__(0, {}, set(), ContactKind.B2C, None, None, None)

    def absorb(self, other: NewContact, overwrite: bool) -> None:
        pass


_EARLIER_ROW = _EarlierRow()


CHANGED_MEANWHILE = (
    "Someone else changed this contact while the import ran; it was not updated (import "
    "the row again to update it)."
)

# An update of a contact this same import created (two rows of the file were one person):
# undo deletes that contact, so there is nothing to restore.
SAME_IMPORT = {"same_import": True}


def _keep_outcomes(job: ImportJob, outcomes: list[_Outcome]) -> None:
    rows = [
        {
            "job_id": job.id,
            "row_number": o.number,
            "action": o.action,
            "contact_id": o.item.id if o.item is not None else o.contact_id,
            "version": o.version,
            "before": o.before,
        }
        for o in outcomes
    ]
    if rows:
        db.session.execute(insert(ImportedRow.__table__), rows)


def _count(job: ImportJob, outcomes: list[_Outcome]) -> None:
    for action in ("created", "updated", "skipped", "failed"):
        setattr(job, action, getattr(job, action) + sum(o.action == action for o in outcomes))
    job.done_rows += len(outcomes)
    errors = [{"row": o.number, "field": f, "message": m} for o in outcomes for f, m in o.problems]
    if errors and len(job.errors) < MAX_ERRORS:
        job.errors = [*job.errors, *errors][:MAX_ERRORS]


def _update(
    actor: User,
    contact: Contact,
    values: dict[str, Any],
    tag_names: list[str],
    how: DuplicateHandling,
) -> dict:
    """Fill (or overwrite) the existing contact from the row; returns what undo needs."""
    before: dict[str, Any] = {"fields": {}, "phones": [], "addresses": [], "social_links": []}
    overwrite = how == DuplicateHandling.OVERWRITE
    for name in UPDATABLE:
        if name not in values:
            continue
        current = getattr(contact, name)
        empty = current is None or current == "" or (name == "email_marketing" and not current)
        if (overwrite or empty) and current != values[name]:
            before["fields"][name] = audit.jsonable(current)
            setattr(contact, name, values[name])
    had = {kind: {merge_key(row) for row in getattr(contact, kind)} for kind in CHILDREN}
    region = phone_region(  # as the rules will read the numbers, with the row's addresses
        [
            *live_rows(contact.addresses),
            *(SimpleNamespace(country=a.get("country")) for a in values.get("addresses", [])),
        ],
        current_app.config.get("CRM_DEFAULT_PHONE_REGION", "US"),
    )
    for item in values.get("phones", []):
        try:  # normalised as the rules will, to compare with the contact's own numbers
            clean = v.clean_phone(
                item.get("country_code"), item["number"], item.get("extension"), region
            )
        except FieldError:
            clean = None  # the rules say what is wrong with it
        if clean is not None and (clean.e164, clean.extension or None) in had["phones"]:
            continue  # the contact has this number already
        phone = Phone(
            phone_type=_lookup(PhoneType, item["type"]),
            number=item["number"],
            extension=item.get("extension"),
            country_code=item.get("country_code"),
        )
        contact.phones.append(phone)
        before["phones"].append(phone)
    for item in values.get("addresses", []):
        item = dict(item)
        kind = _lookup(AddressType, item.pop("type", "Main"))
        address = Address(address_type=kind, **item)
        contact.addresses.append(address)
        before["addresses"].append(address)
    for item in values.get("social_links", []):
        link = SocialLink(platform=_lookup(SocialPlatform, item["platform"]), handle=item["handle"])
        contact.social_links.append(link)
        before["social_links"].append(link)
    new_tags = [t for t in tags_for_names(tag_names) if t not in contact.tags] if tag_names else []
    contact.tags = [*contact.tags, *new_tags]
    before["tags"] = [t.id for t in new_tags]
    new_categories = [c for c in values.get("categories", []) if c not in contact.categories]
    contact.categories = [*contact.categories, *new_categories]
    before["categories"] = [c.id for c in new_categories]
    # An address or link the contact already has (the same by the model's merge key, once
    # the rules normalised it and the flush filled its foreign keys) is not added twice.
    save_contact(actor, contact, is_new=False)
    for kind in ("addresses", "social_links"):
        for row in list(before[kind]):
            if merge_key(row) in had[kind]:
                getattr(contact, kind).remove(row)
                before[kind].remove(row)
    db.session.flush()
    for kind in ("phones", "addresses", "social_links"):
        before[kind] = [row.id for row in before[kind]]
    return before


def _problems(exc: DomainError) -> list[tuple[str, str]]:
    """(column or field, message) for what the rules refused."""
    if isinstance(exc, ValidationFailed):
        return [(_field_label(f), m) for f, ms in exc.errors.items() for m in ms]
    return [("", exc.message)]


def _field_label(field: str) -> str:
    """ "phones-0-number" -> "phone 1 number"; plain fields as they are."""
    parts = field.split("-")
    if len(parts) == 3 and parts[1].isdigit():
        return f"{parts[0].rstrip('s').replace('_', ' ')} {int(parts[1]) + 1} {parts[2]}"
    return field.replace("_", " ")


def _fail(job: ImportJob | None, message: str) -> None:
    if job is None:
        return
    job.status = JobStatus.FAILED
    job.message = message[:2000]
    job.finished_at = utcnow()
    db.session.commit()


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
    job.status = JobStatus.QUEUED
    job.message = None
    job.finished_at = None


# ---- undo ---------------------------------------------------------------------------------------
@dataclass
class UndoReport:
    deleted: int = 0
    restored: int = 0
    kept: int = 0  # changed by someone since the import: left as they are


def undo_import(actor: Actor, job: ImportJob) -> UndoReport:
    """Delete what the import created and restore what it updated (the caller commits).
    Contacts changed since the import are left as they are and counted."""
    _own(actor, job)
    if job.dry_run or job.status not in (JobStatus.DONE, JobStatus.FAILED):
        raise DomainError("Only a finished import can be undone.")
    audit.note_actor(db.session, actor)
    report = UndoReport()
    rows = db.session.scalars(
        select(ImportedRow)
        .where(ImportedRow.job_id == job.id, ImportedRow.action.in_(("created", "updated")))
        .order_by(ImportedRow.row_number.desc())
    ).all()
    # A contact this import created may have been updated by later rows of it: it goes
    # (when nobody changed it since), and the version to compare is the last the job left.
    created = {row.contact_id for row in rows if row.action == "created"}
    last_version: dict[int, int] = {}
    restored_to: dict[int, int] = {}  # a contact updated by several rows: restored in turn
    for row in reversed(rows):
        if row.contact_id is not None and row.version is not None:
            last_version[row.contact_id] = max(row.version, last_version.get(row.contact_id, 0))
    for row in rows:
        if row.action == "created" or row.contact_id in created:
            continue  # created (and perhaps updated) by this import: deleted below
        contact = db.session.get(Contact, row.contact_id) if row.contact_id else None
        if contact is None or contact.version != restored_to.get(row.contact_id, row.version):
            report.kept += 1
            continue
        _restore(contact, row.before or {})
        db.session.flush()
        restored_to[contact.id] = contact.version
        report.restored += 1
    ids = sorted(created - {None})
    for start_at in range(0, len(ids), UNDO_CHUNK):
        chunk = ids[start_at : start_at + UNDO_CHUNK]
        deleted = _delete_created(job, {i: last_version.get(i) for i in chunk})
        report.deleted += deleted
        report.kept += len(chunk) - deleted
    db.session.expire_all()
    db.session.flush()
    job.status = JobStatus.UNDONE
    job.undone_at = utcnow()
    audit.record_event(
        db.session,
        actor,
        "undo_import",
        "import_job",
        f"Undid import {job.filename}: {report.deleted} deleted, {report.restored} restored, "
        f"{report.kept} changed since and kept",
        {"deleted": report.deleted, "restored": report.restored, "kept": report.kept},
        entity_id=job.id,
    )
    return report


UNDO_CHUNK = 5000  # contacts deleted per statement by an undo


def _delete_created(job: ImportJob, expected: dict[int, int | None]) -> int:
    """Delete the contacts the import created that nobody changed since (their version is
    the one the import left), with their B2C hidden accounts, in a few statements: the
    database's ON DELETE CASCADE takes their phones, addresses, links, tags, categories and
    memberships. Each gets a history entry. Returns how many went."""
    rows = db.session.execute(
        select(
            Contact.id, Contact.version, Contact.account_id, Contact.first_name,
            Contact.last_name, Account.is_hidden,
        )
        .join(Account, Account.id == Contact.account_id)
        .where(Contact.id.in_(list(expected)))
    ).all()  # fmt: skip
    gone = [row for row in rows if row.version == expected[row.id]]
    if not gone:
        return 0
    user_id, user_email = audit.current_actor(db.session)
    now = utcnow()
    db.session.execute(
        insert(AuditEntry.__table__),
        [
            {
                "at": now, "user_id": user_id, "user_email": user_email, "action": "delete",
                "entity_type": "contact", "entity_id": row.id, "contact_id": row.id,
                "account_id": row.account_id, "changes": {},
                "summary": f"Delete contact {row.first_name} {row.last_name} (undo of the "
                f"import of {job.filename})"[:300],
            }
            for row in gone
        ],
    )  # fmt: skip
    db.session.execute(delete(Contact.__table__).where(Contact.id.in_([r.id for r in gone])))
    hidden = [row.account_id for row in gone if row.is_hidden]
    if hidden:
        in_use = select(Contact.id).where(Contact.account_id == Account.id).exists()
        db.session.execute(delete(Account.__table__).where(Account.id.in_(hidden), ~in_use))
    return len(gone)


def _restore(contact: Contact, before: dict) -> None:
    for name, value in (before.get("fields") or {}).items():
        setattr(contact, name, from_json(Contact.__table__.c[name], value))
    for kind, model in (("phones", Phone), ("addresses", Address), ("social_links", SocialLink)):
        for row_id in before.get(kind) or []:
            row = db.session.get(model, row_id)
            if row is not None:
                getattr(contact, kind).remove(row)
    added_tags = set(before.get("tags") or [])
    contact.tags = [t for t in contact.tags if t.id not in added_tags]
    added_categories = set(before.get("categories") or [])
    contact.categories = [c for c in contact.categories if c.id not in added_categories]
    refresh_derived_fields(contact)


# ---- preview ---------------------------------------------------------------------------------
@dataclass
class PreviewRow:
    number: int
    values: dict[str, str]  # as they would be stored
    problems: list[tuple[str, str]]


def preview(actor: Actor, job: ImportJob, mapping: Mapping, limit: int = 10) -> list[PreviewRow]:
    """The first rows as they would be stored (names, emails, phones in E.164, addresses,
    account, tags) or why not; nothing is kept."""
    _own(actor, job)
    source = read_job_source(job)
    reader = _reader(job, mapping, source.headers)
    db.session.flush()
    begin_for_savepoints()
    shown: list[PreviewRow] = []
    for number, cells in source.rows():
        if len(shown) >= limit:
            break
        row = reader.read(cells)
        if row.problems:
            shown.append(PreviewRow(number, {}, row.problems))
            continue
        data = dict(row.data)
        tags = data.pop("tags", [])
        if "account" in data and "kind" not in data:
            data["kind"] = "b2b"
        savepoint = db.session.begin_nested()
        try:
            contact = create_contact(actor, data)
            values = _shown_values(contact, tags)
            shown.append(PreviewRow(number, values, []))
        except DomainError as exc:
            shown.append(PreviewRow(number, {}, _problems(exc)))
        finally:
            savepoint.rollback()
    return shown


PREVIEW_COLUMNS = ("Name", "Type", "Account", "Email", "Phones", "Addresses", "Tags", "Other")


def _shown_values(contact: Contact, tags: list[str]) -> dict[str, str]:
    other = [
        f"{label}: {value}"
        for label, value in (
            ("job title", contact.job_title),
            ("birthday", contact.birthday and contact.birthday.isoformat()),
            ("owner", contact.owner and contact.owner.email),
            ("notes", contact.notes and contact.notes[:60]),
        )
        if value
    ]
    return {
        "Name": contact.full_name,
        "Type": contact.kind.label if contact.kind else "",
        "Account": ""
        if contact.account is None or contact.account.is_hidden
        else contact.account.name,
        "Email": ", ".join(e for e in (contact.email, contact.email_secondary) if e),
        "Phones": "; ".join(
            f"{p.phone_type.name if p.phone_type else ''} {p.display}" for p in contact.phones
        ),
        "Addresses": "; ".join(a.one_line for a in contact.addresses),
        "Tags": ", ".join(tags),
        "Other": "; ".join(other),
    }
