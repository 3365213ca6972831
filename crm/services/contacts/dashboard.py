"""The admin home page: figures, the user's tasks and recent contacts, and the team's recent
activity, each through the visibility gate.

Each figure is counted like the lists count (exact up to 10,000, then "~N", PostgreSQL's
estimate, or "10,000+"): a home page must not count a million rows on every visit. The
other parts read a bounded number of rows: the newest history entries, never all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from crm.auth.permissions import Actor, can
from crm.extensions import db
from crm.models import (
    OPEN_TASK_STATUSES,
    Account,
    AuditEntry,
    Contact,
    CustomerStatus,
    Medium,
    Task,
    User,
    audit_entry_contacts,
)
from crm.services.platform import counting, local_time
from crm.services.platform.access import (
    account_visibility,
    contact_visibility,
    sees_every_live_contact,
    unindexed,
)

MY_TASKS = 10
MY_CONTACTS = 8
TEAM_LINES = 12
# How far back the history is read for the user's recent contacts and the team's activity:
# the newest entries only, so the home page costs the same with a million of them.
HISTORY_WINDOW = 500


def _shown(query) -> str:
    return counting.list_count(query).short()


def dashboard_figures(user: Actor) -> dict[str, Any]:
    """The home page's figures, as the lists they link to would count them: active
    contacts, customers and prospects among them, and company accounts."""
    live = select(Contact.id).where(
        contact_visibility(user, use_index=False),
        unindexed(Contact.__table__.c.active).is_(True),
    )
    accounts = select(Account.id).where(account_visibility(user), Account.is_hidden.is_(False))
    return {
        "active_contacts": _shown(live),
        "customers": _shown(live.where(Contact.customer_status == CustomerStatus.CUSTOMER)),
        "prospects": _shown(live.where(Contact.customer_status == CustomerStatus.PROSPECT)),
        "accounts": _shown(accounts),
    }


@dataclass(frozen=True)
class MyTask:
    task: Task
    overdue: bool
    contact_seen: bool  # whether the user may open the task's contact (or account)


def my_tasks(user: Actor, today: date | None = None, limit: int = MY_TASKS) -> list[MyTask]:
    """The user's open tasks due today or before (office date), the oldest due first."""
    user_id = getattr(user, "id", None)
    if user_id is None or not can(user, "contact.view"):
        return []
    today = today or local_time.today()
    found = list(
        db.session.scalars(
            # The index on (owner, status, due date) serves this as range reads.
            select(Task)
            .where(
                Task.owner_id == user_id,
                Task.status.in_(OPEN_TASK_STATUSES),
                Task.due_on <= today,
            )
            .order_by(Task.due_on, Task.id)
            .limit(limit)
            .options(selectinload(Task.contact), selectinload(Task.account))
        )
    )
    contacts = _visible_contact_ids(user, {t.contact_id for t in found if t.contact_id})
    accounts = _visible_account_ids(user, {t.account_id for t in found if t.account_id})
    return [
        MyTask(
            task,
            overdue=task.due_on < today,
            contact_seen=task.contact_id in contacts
            if task.contact_id
            else task.account_id in accounts,
        )
        for task in found
    ]


def my_recent_contacts(user: Actor, limit: int = MY_CONTACTS) -> list[Contact]:
    """The contacts the user created or changed lately (their own history, newest first),
    those they may still see."""
    user_id = getattr(user, "id", None)
    if user_id is None:
        return []
    recent = db.session.scalars(
        select(AuditEntry.contact_id)
        .where(AuditEntry.user_id == user_id, AuditEntry.contact_id.is_not(None))
        .order_by(AuditEntry.id.desc())
        .limit(HISTORY_WINDOW)
    )
    ordered = list(dict.fromkeys(recent))
    if not ordered:
        return []
    seen = {
        c.id: c
        for c in db.session.scalars(
            select(Contact).where(Contact.id.in_(ordered), contact_visibility(user))
        )
    }
    return [seen[i] for i in ordered if i in seen][:limit]


@dataclass
class ActivityLine:
    """One line of the team's activity: `who` `verb` `contact` (or `account`, or `what`)
    `after`."""

    at: datetime
    who: str
    verb: str
    after: str = ""
    contact: Contact | None = None
    contact_live: bool = True  # False: in the trash (not opened from here)
    account: Account | None = None
    what: str = ""
    user_id: int | None = None

    @property
    def when(self) -> str:
        """Office time, to the minute ("Today 14:30", else "2026-11-23 14:30")."""
        moment = local_time.to_local(self.at)
        if moment is not None and moment.date() == local_time.today():
            return "Today " + moment.strftime("%H:%M")
        return local_time.local_text(self.at)


# What a change to a contact's part says, by the kind of record (created / changed).
_VERBS = {
    "note": ("wrote a note on", "changed a note on"),
    "comment": ("commented on", "changed a comment on"),
    "task": ("added a task for", "updated a task for"),
    "deal": ("opened a deal with", "updated a deal with"),
    "order": ("entered an order for", "changed an order of"),
    "payment": ("recorded a payment from", "changed a payment from"),
    "appointment": ("planned a meeting with", "changed a meeting with"),
    "connection": ("added a connection to", "changed a connection of"),
    "contact_file": ("added a file to", "changed a file of"),
}


def team_activity(user: Actor, limit: int = TEAM_LINES) -> list[ActivityLine]:
    """The newest things the team did that `user` may see: changes to contacts and company
    accounts they may see (others' private notes left out), and bulk actions for those who
    see every contact; consecutive entries of one person on one contact make one line."""
    if not can(user, "contact.view"):
        return []
    entries = list(
        db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(HISTORY_WINDOW))
    )
    if not entries:
        return []
    linked: dict[int, int] = {}
    without_contact = [e.id for e in entries if e.contact_id is None]
    if without_contact:
        # A deal's or a meeting's contacts are linked to its entry, not named on it.
        for entry_id, contact_id in db.session.execute(
            select(audit_entry_contacts.c.entry_id, audit_entry_contacts.c.contact_id)
            .where(audit_entry_contacts.c.entry_id.in_(without_contact))
            .order_by(audit_entry_contacts.c.contact_id)
        ):
            linked.setdefault(entry_id, contact_id)
    contact_ids = {e.contact_id or linked.get(e.id) for e in entries} - {None}
    contacts = {
        c.id: c
        for c in db.session.scalars(
            select(Contact).where(
                Contact.id.in_(contact_ids),
                or_(contact_visibility(user), contact_visibility(user, trashed=True)),
            )
        )
    }
    account_ids = {e.account_id for e in entries if e.contact_id is None and e.account_id}
    accounts = {
        a.id: a
        for a in db.session.scalars(
            select(Account).where(
                Account.id.in_(account_ids), account_visibility(user), ~Account.is_hidden
            )
        )
    }
    everything = sees_every_live_contact(user)
    lines: list[ActivityLine] = []
    for entry in entries:
        line = _line(user, entry, contacts.get(entry.contact_id or linked.get(entry.id, 0)),
                     accounts.get(entry.account_id or 0), everything)  # fmt: skip
        if line is None:
            continue
        last = lines[-1] if lines else None
        if last is not None and _same_work(last, line):
            if line.verb == "created":  # the contact's own creation says the most
                last.verb = "created"
            continue
        if len(lines) == limit:
            break
        lines.append(line)
    names = {
        u.id: str(u)
        for u in db.session.scalars(
            select(User).where(User.id.in_({line.user_id for line in lines} - {None}))
        )
    }
    for line in lines:
        line.who = names.get(line.user_id, line.who)
    return lines


def _same_work(last: ActivityLine, line: ActivityLine) -> bool:
    """The same person changing the same contact, saying the same thing or a plain update
    (adding a contact writes its phones and addresses too: one line)."""
    return (
        last.contact is not None
        and last.user_id == line.user_id
        and last.contact is line.contact
        and (line.verb in ("created", "updated") and last.verb in ("created", "updated"))
    )


def _line(
    user: Actor,
    entry: AuditEntry,
    contact: Contact | None,
    account: Account | None,
    everything: bool,
) -> ActivityLine | None:
    who = entry.user_email or "The system"
    base = {"at": entry.at, "who": who, "user_id": entry.user_id}
    changes = entry.changes or {}
    if entry.action == "bulk":
        if not everything or not isinstance(changes.get("contacts"), int):
            return None  # would tell about contacts the user may not see
        what = (entry.summary or "").split(":")[0]
        count = changes["contacts"]
        noun = "contact" if count == 1 else "contacts"
        return ActivityLine(**base, verb=f"changed {count:,} {noun}", what=what)
    if contact is not None:
        if entry.entity_type == "note" and _private(changes) and entry.user_id != user.id:
            return None  # others' private notes are theirs alone
        verb = _contact_verb(entry)
        after = "to the trash" if verb == "moved" else ""
        live = contact.deleted_at is None
        return ActivityLine(**base, verb=verb, after=after, contact=contact, contact_live=live)
    if account is not None and entry.entity_type == "account":
        verb = {"create": "created the account", "delete": "deleted the account"}
        return ActivityLine(**base, verb=verb.get(entry.action, "updated the account"),
                            account=account)  # fmt: skip
    return None


def _private(changes: dict) -> bool:
    value = changes.get("private")
    return bool(value[-1] if isinstance(value, list) and value else value)


def _contact_verb(entry: AuditEntry) -> str:
    changes = entry.changes or {}
    if entry.entity_type == "contact":
        if entry.action == "update" and "deleted_at" in changes:
            trashed = isinstance(changes["deleted_at"], list) and changes["deleted_at"][-1]
            return "moved" if trashed else "restored"
        return {"create": "created", "delete": "deleted"}.get(entry.action, "updated")
    if entry.entity_type == "interaction":
        medium = changes.get("medium")
        value = medium[-1] if isinstance(medium, list) and medium else None
        try:
            label = Medium(value).label.lower() if value else "an interaction"
        except ValueError:
            label = "an interaction"
        article = "an" if label[0] in "aeiou" else "a"
        label = label if label == "an interaction" else f"{article} {label}"
        return f"recorded {label} with" if entry.action == "create" else f"updated {label} with"
    if entry.entity_type in _VERBS:
        created, changed = _VERBS[entry.entity_type]
        if entry.entity_type == "task" and _done(changes):
            return "completed a task for"
        return created if entry.action == "create" else changed
    return "updated"  # a phone, address, link ... is part of the contact


def _done(changes: dict) -> bool:
    status = changes.get("status")
    return isinstance(status, list) and bool(status) and status[-1] == "done"


def _visible_contact_ids(user: Actor, ids: set[int]) -> set[int]:
    if not ids:
        return set()
    return set(
        db.session.scalars(select(Contact.id).where(Contact.id.in_(ids), contact_visibility(user)))
    )


def _visible_account_ids(user: Actor, ids: set[int]) -> set[int]:
    if not ids:
        return set()
    return set(
        db.session.scalars(select(Account.id).where(Account.id.in_(ids), account_visibility(user)))
    )
