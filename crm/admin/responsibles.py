"""Contacts → Responsibles: users with the number of contacts they are in charge of."""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask_admin import expose
from flask_login import current_user

from crm.admin.contacts.filters import NOBODY
from crm.admin.pages import PermissionPage
from crm.services.contacts.responsibles import responsible_counts


def responsible_list_url(user_id: int | None) -> str:
    """The contact list of everyone this user (None: nobody) is responsible for."""
    value = NOBODY if user_id is None else str(user_id)
    return url_for("contact.index_view", flt0_responsible_is=value, show="all")


class ResponsiblesView(PermissionPage):
    permission = "contact.view"

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("name", "Responsibles")
        kwargs.setdefault("category", "Contacts")
        super().__init__(endpoint="responsibles", url="responsibles", **kwargs)

    @expose("/")
    def index(self):
        rows = [
            (row, responsible_list_url(row.user_id)) for row in responsible_counts(current_user)
        ]
        return self.render("admin/responsibles.html", rows=rows)
