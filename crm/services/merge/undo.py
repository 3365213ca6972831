"""Undoing a merge: the merges of a record, why one cannot be undone, and undo."""

from __future__ import annotations

from sqlalchemy import select

from crm.auth.permissions import Actor, can
from crm.errors import DomainError, PermissionDenied
from crm.extensions import db
from crm.models import MergeRecord
from crm.models.base import utcnow
from crm.services.merge.accounts import _moved_contacts, _refresh_search_text
from crm.services.merge.engine import Ledger, undo
from crm.services.merge.record import _versions
from crm.services.platform import audit


def merges_of(kind: str, record_id: int) -> list[MergeRecord]:
    """The merges whose master is this record, newest first."""
    return list(
        db.session.scalars(
            select(MergeRecord)
            .where(MergeRecord.kind == kind, MergeRecord.master_id == record_id)
            .order_by(MergeRecord.id.desc())
        )
    )


def undo_refusal(record: MergeRecord) -> str:
    """Why this merge cannot be undone now ("" when it can)."""
    if record.undone_at is not None:
        return "This merge was undone already."
    later = db.session.scalar(
        select(MergeRecord.id)
        .where(
            MergeRecord.kind == record.kind,
            MergeRecord.id > record.id,
            MergeRecord.undone_at.is_(None),
            MergeRecord.master_id.in_([record.master_id, *record.merged_ids]),
        )
        .order_by(MergeRecord.id)
        .limit(1)
    )
    if later is not None:
        return f"A later merge (#{later}) involves these records: undo it first."
    guard = record.changes.get("guard") or {}
    current = _versions(guard)
    for name, version in guard.items():
        table_name, row_id = name.split(":", 1)
        now = current.get(name)
        if now is None:
            return f"{_record_name(table_name)} #{row_id} no longer exists."
        if now != version:
            return (
                f"{_record_name(table_name)} #{row_id} was changed after the merge: undoing "
                "would lose that change."
            )
    return ""


def _record_name(table_name: str) -> str:
    return "Contact" if table_name == "contacts" else "Account"


def undo_merge(actor: Actor, record: MergeRecord) -> None:
    """Put everything back as it was before the merge (crm_admin; the caller commits)."""
    if not can(actor, "merge.undo"):
        raise PermissionDenied("Only administrators may undo a merge.")
    refused = undo_refusal(record)
    if refused:
        raise DomainError(refused)
    audit.note_actor(db.session, actor)
    ledger = Ledger.from_json(record.changes)
    db.session.flush()
    undo(ledger)  # raises UndoRefused (a DomainError) when a moved row changed since
    if record.kind == "account":  # contacts went back to their companies: found by those
        _refresh_search_text(_moved_contacts(ledger))
    db.session.expire_all()
    record.undone_at = utcnow()
    record.undone_by_email = getattr(actor, "email", None)
    link = (
        {"contact_id": record.master_id}
        if record.kind == "contact"
        else {"account_id": record.master_id}
    )
    audit.record_event(
        db.session,
        actor,
        "unmerge",
        record.kind,
        f"Undid merge #{record.id}: {record.summary}"[:300],
        {"merge_id": record.id, "restored_ids": record.merged_ids},
        entity_id=record.master_id,
        contact_ids=record.merged_ids if record.kind == "contact" else None,
        **link,
    )
    db.session.flush()
