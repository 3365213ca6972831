"""The read-only history list (crm_admin)."""

from __future__ import annotations

import json
from typing import Any

from flask_login import current_user
from markupsafe import Markup, escape

from crm.admin.base import CrmModelView
from crm.auth.permissions import can
from crm.models import AuditEntry


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _changes(_view: Any, _context: Any, model: AuditEntry, _name: str) -> Markup:
    """Each field's old -> new value; a bulk entry's contact list as its size and first ids."""
    rows = []
    for field, value in (model.changes or {}).items():
        if field == "contact_sample":
            continue  # shown with "contacts"
        if field == "contacts" and isinstance(value, int) and model.action == "bulk":
            first = [
                i for i in (model.changes or {}).get("contact_sample", []) if isinstance(i, int)
            ]
            shown = ", ".join(str(i) for i in first) + (" ..." if value > len(first) else "")
            rows.append(Markup("<li><b>contacts</b>: {:,} ({})</li>").format(value, shown))
        elif field == "contact_ids" and isinstance(value, list):
            shown = ", ".join(str(i) for i in value[:20]) + (" ..." if len(value) > 20 else "")
            rows.append(Markup("<li><b>contacts</b>: {:,} ({})</li>").format(len(value), shown))
        elif isinstance(value, list) and len(value) == 2:
            rows.append(
                Markup("<li><b>{}</b>: {} &rarr; {}</li>").format(
                    field, _show(value[0]), _show(value[1])
                )
            )
        else:
            rows.append(Markup("<li><b>{}</b>: {}</li>").format(field, _show(value)))
    return Markup('<ul class="list-unstyled mb-0 small">{}</ul>').format(
        Markup("").join(rows) if rows else escape("")
    )


class AuditView(CrmModelView):
    column_list = (
        "at",
        "user_email",
        "action",
        "entity_type",
        "entity_id",
        "contact_id",
        "summary",
        "changes",
    )
    column_labels = {
        "at": "When",
        "user_email": "Who",
        "entity_type": "Record",
        "entity_id": "Record id",
        "contact_id": "Contact id",
    }
    column_formatters = {"changes": _changes}
    column_formatters_detail = {"changes": _changes}
    column_sortable_list = ("at", "action", "entity_type")
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
