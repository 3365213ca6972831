"""Tasks (24SevenOffice's Tasks tab): something to do for a contact or an account, by an owner, by
a due date, with a status (open, in progress, done, cancelled).

Who sees a task: those who see its contact (or, for a task on an account alone, its account),
and its owner and its creator. Who gives it: sales may not give things away (as with the
owner of a contact, crm.services.contacts.saving): without "contact.transfer" a task's
owner can only become the acting user; managers and administrators give tasks to any active user."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, or_, select

from crm.auth.permissions import Actor, can
from crm.errors import NotFound, PermissionDenied, StaleEditError
from crm.extensions import db
from crm.models import OPEN_TASK_STATUSES, Account, Contact, Task, TaskStatus, User
from crm.models.base import utcnow
from crm.services.platform import audit, local_time
from crm.services.platform import validation as v
from crm.services.platform.access import (
    account_visibility,
    contact_visibility,
    get_visible_account,
    get_visible_contact,
    one_of,
    record_id,
)

MAX_TITLE = 200
TASK_FIELDS = ("title", "description", "status", "due_on", "owner_id", "contact_id", "account_id")


def task_visibility(actor: Actor | None) -> ColumnElement[bool]:
    """A WHERE clause selecting the tasks `actor` may see: those of a contact they see (of an
    account they see, for a task with no contact), and those they own or created."""
    if not can(actor, "contact.view"):
        return false()
    of_contact = (
        select(Contact.id)
        .where(Contact.id == Task.contact_id, contact_visibility(actor, use_index=False))
        .exists()
    )
    of_account = (
        select(Account.id).where(Account.id == Task.account_id, account_visibility(actor)).exists()
    )
    seen = or_(
        and_(Task.contact_id.is_not(None), of_contact),
        and_(Task.contact_id.is_(None), of_account),
    )
    user_id = getattr(actor, "id", None)
    if user_id is None:
        return seen
    return or_(Task.owner_id == user_id, Task.created_by_id == user_id, seen)


def visible_tasks(actor: Actor | None) -> Select[tuple[Task]]:
    return select(Task).where(task_visibility(actor))


def get_visible_task(actor: Actor | None, task_id: object) -> Task | None:
    """The task with this id if `actor` may see it, else None (callers answer 404)."""
    return one_of(visible_tasks(actor), Task, task_id)


def overdue_clause(today: date | None = None) -> ColumnElement[bool]:
    """Open or in progress, and due before today (the office's date)."""
    today = today or local_time.today()
    return and_(Task.status.in_(OPEN_TASK_STATUSES), Task.due_on < today)


def statuses_of(choice: Any) -> tuple[TaskStatus, ...] | None:
    """The statuses a filter value stands for: "active" (open and in progress), "all" (None:
    any), or one status; ValueError for anything else."""
    if choice in (None, "", "all"):
        return None
    if choice == "active":
        return OPEN_TASK_STATUSES
    if isinstance(choice, TaskStatus):
        return (choice,)
    if isinstance(choice, str):
        return (TaskStatus(choice),)
    return tuple(TaskStatus(getattr(c, "value", c)) for c in choice)


def tasks_of_contact(
    actor: Actor,
    contact_id: int,
    status: TaskStatus | str | Iterable[TaskStatus] | None = None,
    owner_id: int | None = None,
    limit: int = 200,
) -> list[Task]:
    """The contact's tasks `actor` may see (its Tasks tab): `status` one status, several,
    "active" or None (all); `owner_id` one owner. Open ones first, the soonest due first
    (no due date last), then the newest."""
    query = visible_tasks(actor).where(Task.contact_id == contact_id)
    statuses = statuses_of(status)
    if statuses is not None:
        query = query.where(Task.status.in_(statuses))
    if owner_id is not None:
        query = query.where(Task.owner_id == owner_id)
    query = query.order_by(
        Task.status.not_in(OPEN_TASK_STATUSES),
        Task.due_on.is_(None),
        Task.due_on,
        Task.id.desc(),
    )
    return list(db.session.scalars(query.limit(limit)))


def owners_of_contact_tasks(actor: Actor, contact_id: int) -> list[User]:
    """The owners of the contact's tasks that `actor` sees (the tab's owner filter)."""
    owner_ids = (
        visible_tasks(actor).where(Task.contact_id == contact_id).with_only_columns(Task.owner_id)
    )
    return list(db.session.scalars(select(User).where(User.id.in_(owner_ids)).order_by(User.email)))


def _id(value: Any) -> int | None:
    """An id given as a number, text or record; None when empty. FieldError otherwise."""
    if value in (None, "", "__None"):
        return None
    pk = record_id(getattr(value, "id", value))
    if pk is None:
        raise v.FieldError("Not a valid choice.")
    return pk


def _due_on(value: Any) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise v.FieldError("Give a date like 2026-11-23.") from None


def _status(value: Any) -> TaskStatus:
    try:
        return TaskStatus(getattr(value, "value", value))
    except ValueError:
        choices = ", ".join(s.label for s in TaskStatus)
        raise v.FieldError(f"Choose one of: {choices}.") from None


def save_task(actor: Actor, task: Task | None, data: dict[str, Any]) -> Task:
    """Create a task (`task` None) or change one the actor sees, from `data` (keys of
    TASK_FIELDS; on a change, missing keys keep their value; "version" checks the edit is
    not stale). ValidationFailed, PermissionDenied, StaleEditError."""
    if not can(actor, "task.edit"):
        raise PermissionDenied("You may not create or change tasks.")
    is_new = task is None
    if not is_new and get_visible_task(actor, task.id) is None:
        raise NotFound("No such task, or not one you may see.")
    version = data.get("version")
    if not is_new and version not in (None, "") and str(version) != str(task.version):
        raise StaleEditError("Someone else saved this task after you opened it: reload it.")
    errors = v.FieldErrors()
    values = _checked_values(actor, task, data, errors)
    errors.raise_any()
    audit.note_actor(db.session, actor)
    if task is None:
        task = Task(created_by_id=getattr(actor, "id", None), status=TaskStatus.OPEN)
        db.session.add(task)
    previous_status = None if is_new else task.status
    for name, value in values.items():
        setattr(task, name, value)
    if task.status != previous_status:
        task.completed_at = utcnow() if task.status == TaskStatus.DONE else None
    db.session.flush()
    return task


def _checked_values(
    actor: Actor, task: Task | None, data: dict[str, Any], errors: v.FieldErrors
) -> dict[str, Any]:
    """The cleaned values to set, each rule's message noted on its field."""
    given = {name: data[name] for name in TASK_FIELDS if name in data}
    is_new = task is None
    values: dict[str, Any] = {}
    if is_new or "title" in given:
        values["title"] = errors.one_line(
            "title", given.get("title"), MAX_TITLE, "Give the task a title."
        )
    if is_new or "description" in given:
        values["description"] = errors.check(
            "description", v.clean_free_text, given.get("description")
        )
    if "status" in given and given["status"] not in (None, ""):
        values["status"] = errors.check("status", _status, given["status"])
    if is_new or "due_on" in given:
        values["due_on"] = errors.check("due_on", _due_on, given.get("due_on"))
    _check_links(actor, task, given, values, errors)
    _check_owner(actor, task, given, values, errors)
    return values


def _check_links(
    actor: Actor, task: Task | None, given: dict, values: dict, errors: v.FieldErrors
) -> None:
    """A contact or an account (or both), each one the actor sees when newly chosen."""
    stored = {
        "contact_id": None if task is None else task.contact_id,
        "account_id": None if task is None else task.account_id,
    }
    chosen = dict(stored)
    for name in ("contact_id", "account_id"):
        if name in given:
            chosen[name] = errors.check(name, _id, given[name])
    if errors.found.keys() & {"contact_id", "account_id"}:
        return
    if chosen["contact_id"] is None and chosen["account_id"] is None:
        errors.add("contact_id", "Choose the contact or the account this task is for.")
        return
    contact_id, account_id = chosen["contact_id"], chosen["account_id"]
    if contact_id not in (None, stored["contact_id"]) and not get_visible_contact(
        actor, contact_id
    ):
        errors.add("contact_id", "Choose a contact you can see.")
    if account_id not in (None, stored["account_id"]):
        account = get_visible_account(actor, account_id)
        if account is None or account.is_hidden:
            errors.add("account_id", "Choose an account you can see.")
    values.update(chosen)


def _check_owner(
    actor: Actor, task: Task | None, given: dict, values: dict, errors: v.FieldErrors
) -> None:
    """An active user; without "contact.transfer" only the actor (or no change)."""
    actor_id = getattr(actor, "id", None)
    stored = None if task is None else task.owner_id
    if "owner_id" in given:
        owner_id = errors.check("owner_id", _id, given["owner_id"])
        if "owner_id" in errors.found:
            return
    else:
        owner_id = actor_id if task is None else stored
    if task is None and owner_id is None:
        owner_id = actor_id
    if owner_id == stored and task is not None:
        return
    if owner_id != actor_id and not can(actor, "contact.transfer"):
        errors.add("owner_id", "You may not give tasks to other users: choose yourself.")
        return
    if owner_id is not None:
        owner = db.session.get(User, owner_id)
        if owner is None:
            errors.add("owner_id", "No such user.")
            return
        if not owner.active:
            errors.add("owner_id", f"{owner} is not an active user.")
            return
        if not can(owner, "task.edit"):
            errors.add("owner_id", f"{owner} does not work with tasks (no role for them).")
            return
    values["owner_id"] = owner_id


def set_status(actor: Actor, task: Task, status: TaskStatus | str) -> Task:
    """Mark the task done, in progress, cancelled, or open again."""
    return save_task(actor, task, {"status": status})


def delete_task(actor: Actor, task: Task) -> None:
    if not can(actor, "task.edit"):
        raise PermissionDenied("You may not delete tasks.")
    if get_visible_task(actor, task.id) is None:
        raise NotFound("No such task, or not one you may see.")
    audit.note_actor(db.session, actor)
    db.session.delete(task)
    db.session.flush()
