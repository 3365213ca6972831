"""A contact's history (24SevenOffice's History tab, SECUTIX's "Audit contact"): every entry that
belongs to it, its own changes, its phones', notes', deals', ... and the bulk actions,
imports and merges that touched it, newest first, within a date range.

Entries are written by crm.services.platform.audit; this module reads them and says them in
words."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select, union

from crm.auth.permissions import Actor, can
from crm.errors import NotFound, PermissionDenied
from crm.extensions import db
from crm.models import (
    Account,
    AuditEntry,
    Category,
    Tag,
    User,
    audit_bulk_contacts,
    audit_entry_contacts,
)
from crm.models.base import utcnow
from crm.services.platform.access import get_visible_contact, unindexed
from crm.services.platform.validation import birthday_shown

PAGE_SIZE = 50
# Field names as a user reads them; others are shown with underscores as spaces.
LABELS = {
    "owner_id": "Owner",
    "responsible_id": "Responsible",
    "operator_id": "Operator",
    "author_id": "Author",
    "account_id": "Account",
    "manager_id": "Manager",
    "access_class_id": "Access class",
    "contact_ids": "Contacts",
    "linked_accounts": "Companies",
    "e164": "Number",
    "do_not_email": "Do not email",
    "do_not_call": "Do not call",
}
_USER_FIELDS = {"owner_id", "responsible_id", "operator_id", "author_id", "uploaded_by_id",
                "created_by_id", "deleted_by_id"}  # fmt: skip
# Kept by the rules from other fields: shown through those.
_DERIVED = frozenset({"birthday_month", "contact_sample"})
_NAMED_LISTS = {"tags": Tag, "categories": Category, "linked_accounts": Account}


@dataclass
class Change:
    field: str
    old: str
    new: str


@dataclass
class HistoryItem:
    entry: AuditEntry
    changes: list[Change]
    touched: int | None  # how many contacts a bulk entry names


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
    return HistoryPage(described(entries), page, has_more, since, until)


def described(entries: list[AuditEntry]) -> list[HistoryItem]:
    """Each entry with its changes in words: ids of users, tags, categories and companies
    become their names (looked up once for the page)."""
    wanted: dict[type, set[int]] = {}
    for entry in entries:
        for name, value in (entry.changes or {}).items():
            model = User if name in _USER_FIELDS else _NAMED_LISTS.get(name)
            if name == "account_id":
                model = Account
            if model is None or not isinstance(value, list):
                continue
            for side in value[:2]:
                ids = side if isinstance(side, list) else [side]
                wanted.setdefault(model, set()).update(i for i in ids if isinstance(i, int))
    names: dict[type, dict[int, str]] = {}
    for model, ids in wanted.items():
        rows = db.session.scalars(select(model).where(model.id.in_(ids))) if ids else []
        names[model] = {row.id: str(row) for row in rows}
    return [_item(entry, names) for entry in entries]


def _item(entry: AuditEntry, names: dict[type, dict[int, str]]) -> HistoryItem:
    changes, touched = [], None
    for name, value in (entry.changes or {}).items():
        if name == "contact_ids" and isinstance(value, list):
            touched = len(value)
            continue
        if name == "contacts" and isinstance(value, int) and entry.action == "bulk":
            touched = value
            continue
        if name in _DERIVED:
            continue
        label = LABELS.get(name, name.replace("_", " ").capitalize())
        if name == "birthday" and isinstance(value, list) and len(value) == 2:
            changes.append(Change(label, *(_birthday(side) for side in value)))
        elif isinstance(value, list) and len(value) == 2:
            model = User if name in _USER_FIELDS else _NAMED_LISTS.get(name)
            if name == "account_id":
                model = Account
            old, new = (_shown(side, names.get(model, {}) if model else None) for side in value)
            changes.append(Change(label, old, new))
        else:
            changes.append(Change(label, "", _shown(value, None)))
    return HistoryItem(entry, changes, touched)


def _birthday(value: Any) -> str:
    """A birthday as the card shows it ("17 May" when the year is not known)."""
    try:
        return birthday_shown(date.fromisoformat(str(value))) if value else ""
    except ValueError:
        return str(value)


def _shown(value: Any, names: dict[int, str] | None) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_shown(v, names) for v in value)
    if names is not None and isinstance(value, int):
        return names.get(value, f"#{value}")
    return str(value)
