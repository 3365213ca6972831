"""The Tasks tab of a contact's page: the contact's tasks by status and owner, with the
buttons back to the task list's forms (crm.admin.tasks)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import has_request_context, request, url_for

from crm.auth.permissions import can
from crm.models import Task, TaskStatus
from crm.services.card import tasks
from crm.services.platform import access, local_time

# The contact's Tasks tab: which statuses it shows.
TAB_STATUSES = {"active": "Open and in progress", **dict(TaskStatus.choices()), "all": "All"}


@dataclass
class TasksTab:
    """What the contact's Tasks tab shows: the tasks by the chosen status and owner."""

    tasks: list[Task]
    today: date
    status: str  # a key of TAB_STATUSES
    owner: str  # "" (anyone), "me" or a user id
    status_choices: dict[str, str] = field(default_factory=lambda: dict(TAB_STATUSES))
    owner_choices: list[tuple[str, str]] = field(default_factory=list)
    may_edit: bool = False
    new_url: str = ""
    back_url: str = ""  # this tab as it is, for the buttons to come back to


def tasks_tab(user: Any, contact: Any) -> Any:
    """What the Tasks tab of the contact's page shows to `user`: `?task_status=` (a key of
    TAB_STATUSES, open and in progress by default) and `?task_owner=` ("me" or a user id)."""
    if not can(user, "contact.view"):
        return None
    args = request.args if has_request_context() else {}
    status = args.get("task_status") or "active"
    status = status if status in TAB_STATUSES else "active"
    owner = args.get("task_owner") or ""
    owner_id = None
    if owner == "me":
        owner_id = user.id
    elif owner:
        owner_id = access.record_id(owner)
        owner = str(owner_id) if owner_id is not None else ""
    owners = tasks.owners_of_contact_tasks(user, contact.id)
    back_args = {"task_status": status, "task_owner": owner or None}
    back = url_for("contact.details_view", id=contact.id, tab="tasks", **back_args) + "#tab-tasks"
    return TasksTab(
        tasks=tasks.tasks_of_contact(user, contact.id, status, owner_id),
        today=local_time.today(),
        status=status,
        owner=owner,
        owner_choices=[("", "Anyone"), ("me", "Me")]
        + [(str(u.id), str(u)) for u in owners if u.id != user.id],
        may_edit=can(user, "task.edit"),
        new_url=url_for("task.create_view", contact_id=contact.id, url=back),
        back_url=back,
    )
