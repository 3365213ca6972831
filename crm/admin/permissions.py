"""Administration > Permissions: the permission matrix, read-only, from the one table the
server enforces (crm.auth.permissions)."""

from __future__ import annotations

from typing import Any

from flask_admin import expose
from flask_login import current_user

from crm.admin.pages import PermissionPage
from crm.admin.users import role_label
from crm.auth.permissions import ROLE_ORDER, matrix, roles_of
from crm.models import ROLE_NAMES


class PermissionMatrixView(PermissionPage):
    permission = "permissions.view"

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("name", "Permissions")
        kwargs.setdefault("category", "Administration")
        super().__init__(endpoint="permissions", url="permissions", **kwargs)

    @expose("/")
    def index(self):
        return self.render(
            "admin/permissions.html",
            roles=[(role, role_label(role), ROLE_NAMES[role]) for role in ROLE_ORDER],
            rows=matrix(),
            mine=roles_of(current_user),
        )
