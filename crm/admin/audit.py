"""The read-only history list (crm_admin), in the words of the contact's History tab: one
formatter (crm.services.card.history_words) says every entry."""

from __future__ import annotations

from typing import Any

from flask import g, url_for
from flask_login import current_user
from markupsafe import Markup

from crm.admin.base import CrmModelView
from crm.auth.permissions import can
from crm.models import AuditEntry
from crm.services.card.history_words import HistoryItem, described


def _item(model: AuditEntry) -> HistoryItem:
    """The entry in words: described with the rest of the page when the list loaded it."""
    known = g.setdefault("crm_history_items", {})
    if model.id not in known:
        known.update({item.entry.id: item for item in described([model])})
    return known[model.id]


def _when(_view: Any, _context: Any, model: AuditEntry, _name: str) -> str:
    return _item(model).when


def _who(_view: Any, _context: Any, model: AuditEntry, _name: str) -> str:
    return _item(model).who


def _what(_view: Any, _context: Any, model: AuditEntry, _name: str) -> Markup:
    item = _item(model)
    if item.link:
        endpoint, args = item.link
        return Markup('<a href="{}">{}</a>').format(url_for(endpoint, **args), item.headline)
    return Markup("{}").format(item.headline)


def _contact(_view: Any, _context: Any, model: AuditEntry, _name: str) -> Markup:
    item = _item(model)
    if not model.contact_id or not item.contact:
        return Markup("")
    url = url_for("contact.details_view", id=model.contact_id, tab="history")
    return Markup('<a href="{}">{}</a>').format(url, item.contact)


def _changes(_view: Any, _context: Any, model: AuditEntry, _name: str) -> Markup:
    """Each field's old -> new value, labelled as on its form."""
    rows = [
        Markup("<li><b>{}</b>: {}{}</li>").format(
            change.field,
            Markup('<span class="text-muted">{}</span> &rarr; ').format(change.old)
            if change.old
            else "",
            change.new or "(empty)",
        )
        for change in _item(model).changes
    ]
    return Markup('<ul class="list-unstyled mb-0 small">{}</ul>').format(Markup("").join(rows))


class AuditView(CrmModelView):
    column_list = ("at", "user_email", "summary", "contact_id", "changes")
    column_details_list = column_list
    column_labels = {
        "at": "When",
        "user_email": "Who",
        "summary": "What",
        "contact_id": "Contact",
        "changes": "Changes",
        "entity_type": "Record",
        "account_id": "Account number",
    }
    column_formatters = {
        "at": _when,
        "user_email": _who,
        "summary": _what,
        "contact_id": _contact,
        "changes": _changes,
    }
    column_formatters_detail = column_formatters
    column_sortable_list = ("at",)
    column_default_sort = [("at", True), ("id", True)]
    column_filters = ("action", "entity_type", "user_email", "contact_id", "account_id", "at")
    can_view_details = True
    # History only grows (bulk actions add an entry each): page with next/previous instead
    # of counting every row on every page.
    simple_list_pager = True

    def __init__(self, **kwargs: Any):
        super().__init__(
            AuditEntry,
            name="History",
            endpoint="audit",
            url="history",
            category="Administration",
            **kwargs,
        )

    def _allowed(self, verb: str) -> bool:
        return verb == "view" and can(current_user, "audit.view")

    def get_list(self, *args: Any, **kwargs: Any):
        """The page's entries, described together (one look-up of names per kind)."""
        count, data = super().get_list(*args, **kwargs)
        if kwargs.get("execute", True) and data is not None:
            known = g.setdefault("crm_history_items", {})
            known.update({item.entry.id: item for item in described(list(data))})
        return count, data
