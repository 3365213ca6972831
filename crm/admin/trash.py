"""The trash: deleted contacts, which managers restore and administrators purge."""

from __future__ import annotations

from typing import Any

from flask import flash, url_for
from flask_admin.actions import action
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy.orm import selectinload

from crm.admin.base import CrmModelView
from crm.admin.committing import CHANGED_MEANWHILE, commit_or_explain
from crm.auth.permissions import can
from crm.extensions import db
from crm.models import Contact
from crm.services.contacts.trash import purge_contact, restore_contact
from crm.services.platform import access


def _name(_view: Any, _context: Any, model: Contact, _name: str) -> Markup:
    """The name, opening what the contact was."""
    url = url_for(".details_view", id=model.id)
    return Markup('<a href="{}">{}</a>').format(url, model.full_name)


def _person(_view: Any, _context: Any, model: Contact, name: str) -> str:
    user = getattr(model, name)
    return str(user) if user is not None else ""


def _company(_view: Any, _context: Any, model: Contact, _name: str) -> str:
    account = model.account
    return account.name if account is not None and not account.is_hidden else "(consumer)"


def _rows(_view: Any, _context: Any, model: Contact, name: str) -> Markup:
    """Phones or addresses, one a line."""
    lines = [
        f"{row.phone_type}: {row.display}" if name == "phones" else str(row)
        for row in getattr(model, name)
    ]
    return Markup("<br>").join(lines)


class TrashView(CrmModelView):
    """Lists only trashed contacts the user may see, and shows what each one was; nothing
    is created or edited here."""

    column_list = ("last_name", "account", "email", "deleted_at", "deleted_by")
    column_labels = {
        "last_name": "Name",
        "account": "Account",
        "deleted_at": "Moved to the trash",
        "deleted_by": "By",
        "phones": "Phones",
        "addresses": "Addresses",
        "job_title": "Job title",
        "created_at": "Created",
    }
    column_formatters = {
        "last_name": _name,
        "account": _company,
        "deleted_by": _person,
        "owner": _person,
    }
    column_formatters_detail = {
        "last_name": lambda v, c, m, n: m.full_name,
        "account": _company,
        "deleted_by": _person,
        "owner": _person,
        "phones": _rows,
        "addresses": _rows,
    }
    column_sortable_list = (("last_name", ("last_name", "first_name")), "deleted_at")
    column_default_sort = [("deleted_at", True), ("id", True)]
    column_details_list = ("last_name", "account", "job_title", "email", "phones", "addresses",
                           "owner", "created_at", "deleted_at", "deleted_by")  # fmt: skip
    can_view_details = True
    details_template = "admin/trash_details.html"

    def __init__(self, **kwargs: Any):
        super().__init__(
            Contact, name="Trash", endpoint="trash", url="trash", category="Contacts", **kwargs
        )

    def _allowed(self, verb: str) -> bool:
        return verb == "view" and (
            can(current_user, "contact.restore") or can(current_user, "contact.purge")
        )

    def get_query(self):
        return (
            db.session.query(Contact)
            .filter(access.contact_visibility(current_user, trashed=True))
            .options(selectinload(Contact.account), selectinload(Contact.deleted_by))
        )

    def get_count_query(self):
        return (
            super().get_count_query().filter(access.contact_visibility(current_user, trashed=True))
        )

    def is_action_allowed(self, name: str) -> bool:
        permission = {"restore": "contact.restore", "purge": "contact.purge"}.get(name)
        return permission is not None and can(current_user, permission)

    def _each(self, ids: list[str], change, done: str) -> None:
        wanted = [int(i) for i in ids if str(i).isdigit()]
        contacts = self.get_query().filter(Contact.id.in_(wanted)).all() if wanted else []
        with commit_or_explain(conflict_message=CHANGED_MEANWHILE) as outcome:
            for contact in contacts:
                change(current_user, contact)
        if outcome:
            flash(f"{len(contacts)} contact(s) {done}.", "success")

    @action("restore", "Restore", "Restore the selected contacts?")
    def action_restore(self, ids: list[str]) -> None:
        self._each(ids, restore_contact, "restored")

    @action(
        "purge",
        "Delete for good",
        "Delete the selected contacts for good? This cannot be undone (their history stays).",
    )
    def action_purge(self, ids: list[str]) -> None:
        self._each(ids, purge_contact, "deleted for good")
