"""A contact's history (24SevenOffice's History tab, SECUTIX's "Audit contact"): every entry that
belongs to it, its own changes, its phones', notes', deals', ... and the bulk actions,
imports and merges that touched it, newest first, within a date range.

Entries are written by crm.services.platform.audit; this module reads them and says them in
words."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select, union

from crm.auth.permissions import Actor, can
from crm.errors import NotFound, PermissionDenied
from crm.extensions import db
from crm.models import AuditEntry, audit_bulk_contacts, audit_entry_contacts
from crm.models.base import utcnow
from crm.services.card.history_words import Change, HistoryItem, described
from crm.services.platform.access import get_visible_contact, unindexed

__all__ = ["Change", "HistoryItem", "HistoryPage", "contact_history", "described", "parse_day"]

PAGE_SIZE = 50


@dataclass
class HistoryPage:
    items: list[HistoryItem]
    page: int
    has_more: bool
    since: date | None
    until: date | None


def parse_day(value: str | None) -> date | None:
    """A date from a form field (YYYY-MM-DD); None when empty or not a date."""
    try:
        return date.fromisoformat((value or "").strip()) if value else None
    except ValueError:
        return None


def contact_history(
    actor: Actor,
    contact_id: int,
    since: date | None = None,
    until: date | None = None,
    page: int = 1,
) -> HistoryPage:
    """The contact's history from `since` to `until` (both days included), a page at a
    time; NotFound for a contact the actor may not see."""
    if not can(actor, "contact.view"):
        raise PermissionDenied("You may not see contacts.")
    if get_visible_contact(actor, contact_id) is None:
        raise NotFound("No such contact.")
    if since and until and since > until:
        since, until = until, since
    page = max(1, min(int(page or 1), 10_000))
    span = []
    if since:
        span.append(AuditEntry.at >= datetime.combine(since, time.min, tzinfo=utcnow().tzinfo))
    if until:
        end = datetime.combine(until + timedelta(days=1), time.min, tzinfo=utcnow().tzinfo)
        span.append(AuditEntry.at < end)
    own = select(AuditEntry.id).where(AuditEntry.contact_id == contact_id, *span)
    linked = (
        select(audit_entry_contacts.c.entry_id)
        .join(AuditEntry, AuditEntry.id == audit_entry_contacts.c.entry_id)
        .where(audit_entry_contacts.c.contact_id == contact_id, *span)
    )
    bulk = audit_bulk_contacts.c
    named = (
        select(AuditEntry.id)
        .where(AuditEntry.action == "bulk", *span)
        .where(
            select(bulk.entry_id)
            .where(bulk.entry_id == AuditEntry.id, bulk.contact_id == contact_id)
            .exists()
        )
    )
    ids = union(own, linked, named).subquery()
    entries = list(
        db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.id.in_(select(ids.c[0])))
            # Sorted after they are found: SQLite would otherwise walk every entry of every
            # contact by the index on `at`, looking for this contact's.
            .order_by(unindexed(AuditEntry.__table__.c.at).desc(), AuditEntry.id.desc())
            .offset((page - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE + 1)
        )
    )
    has_more = len(entries) > PAGE_SIZE
    entries = entries[:PAGE_SIZE]
    return HistoryPage(described(entries, about=contact_id), page, has_more, since, until)
