"""Contacts → Merges: the merge page for contacts and accounts, and the list of merges."""

from __future__ import annotations

from typing import Any

from flask import abort
from flask_admin import expose

from crm.admin.base import PermissionPage


class MergeView(PermissionPage):
    permission = "contact.merge"

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("name", "Merges")
        kwargs.setdefault("category", "Contacts")
        super().__init__(endpoint="merge", url="merge", **kwargs)

    @expose("/")
    def index(self):
        abort(404)

    @expose("/contacts/", methods=("GET", "POST"))
    def contacts(self):
        abort(404)

    @expose("/accounts/", methods=("GET", "POST"))
    def accounts(self):
        abort(404)
