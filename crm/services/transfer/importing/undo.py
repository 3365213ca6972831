"""Undoing an import: what it created deleted, what it updated restored."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, insert, select

from crm.auth.permissions import Actor
from crm.errors import DomainError
from crm.extensions import db
from crm.models import (
    Account,
    Address,
    AuditEntry,
    Contact,
    ImportedRow,
    ImportJob,
    JobStatus,
    Phone,
    SocialLink,
)
from crm.models.base import utcnow
from crm.services.contacts.saving import refresh_derived_fields
from crm.services.merge.engine import from_json
from crm.services.platform import audit
from crm.services.transfer.importing.jobs import _own


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
