"""The trash: deleted contacts, which managers restore and administrators purge."""

from __future__ import annotations

from typing import Any

from flask import flash
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
    return Markup("{}").format(model.full_name)


class TrashView(CrmModelView):
    """Lists only trashed contacts the user may see; nothing is created or edited here."""

    column_list = ("last_name", "email", "deleted_at", "deleted_by_id")
    column_labels = {"last_name": "Name", "deleted_at": "Deleted", "deleted_by_id": "By user"}
    column_formatters = {"last_name": _name}
    column_sortable_list = (("last_name", ("last_name", "first_name")), "deleted_at")
    column_default_sort = [("deleted_at", True), ("id", True)]
    can_view_details = False

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
            .options(selectinload(Contact.account))
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
