"""Running an import job: its rows in batches, each batch one transaction that checks
the rows, looks their duplicates up together, updates the contacts they match and
inserts the new ones together."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from flask import current_app
from sqlalchemy import insert, select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from crm.auth.permissions import can
from crm.errors import DomainError, FieldError, ValidationFailed
from crm.extensions import db
from crm.models import (
    Address,
    AddressType,
    Contact,
    ContactKind,
    DuplicateHandling,
    ImportedRow,
    ImportJob,
    JobStatus,
    Phone,
    PhoneType,
    SocialLink,
    SocialPlatform,
    User,
)
from crm.models.base import utcnow
from crm.services.contacts.batch import ContactBatch, NewContact, begin_for_savepoints
from crm.services.contacts.details import live_rows, phone_region
from crm.services.contacts.saving import lookup_by_name, save_contact
from crm.services.lists.tags import tags_for_names
from crm.services.merge.engine import merge_key
from crm.services.platform import audit
from crm.services.platform import validation as v
from crm.services.platform.access import contact_visibility
from crm.services.transfer.importing import column_sets, sources
from crm.services.transfer.importing.jobs import read_job_source
from crm.services.transfer.importing.rows import RowReader
from crm.services.transfer.importing.targets import Mapping

BATCH = 1000  # rows per transaction
MAX_ERRORS = 1000  # rows in error kept on the job (all are counted)
CHILDREN = ("phones", "addresses", "social_links")
# Contact fields an update may fill or overwrite (the rest are decided by the rules).
UPDATABLE = (
    "title", "first_name", "middle_name", "last_name", "job_title", "department", "email",
    "email_secondary", "website", "birthday", "gender", "customer_status", "prospect_status",
    "contact_preference", "email_marketing", "do_not_email", "do_not_call", "timezone",
    "language", "notes", "other_contacts",
)  # fmt: skip


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
