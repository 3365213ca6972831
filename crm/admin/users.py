"""Users and roles, managed by crm_admin only."""

from __future__ import annotations

from typing import Any

from flask_login import current_user
from sqlalchemy import select
from wtforms import PasswordField
from wtforms.validators import Optional

from crm.admin.base import CrmModelView
from crm.admin.forms import CsrfTokenRule
from crm.auth import session_guard
from crm.auth.permissions import ROLE_ORDER, can
from crm.errors import ValidationFailed
from crm.extensions import db
from crm.models import ROLE_NAMES, Role, User
from crm.services.platform.users import delete_user, save_user

# Shown under the password field (a hint, not a secret).
PASSWORD_HINT = "10 to 128 characters, not easy to guess (a few uncommon words work well)."  # noqa: S105


def role_label(name: str) -> str:
    """A role as people read it, with the code the CLI and the API use: "Sales (crm_sales)"."""
    described = ROLE_NAMES.get(name)
    return f"{described.split(':')[0]} ({name})" if described else name


def _roles_text(_view: Any, _context: Any, user: User, _name: str) -> str:
    return ", ".join(role_label(role.name) for role in sorted(user.roles, key=_role_order))


def _role_order(role: Role) -> int:
    return ROLE_ORDER.index(role.name) if role.name in ROLE_ORDER else len(ROLE_ORDER)


def _role_name(_view: Any, _context: Any, role: Role, _name: str) -> str:
    return role_label(role.name)


class UserView(CrmModelView):
    column_list = ("email", "full_name", "roles", "active", "last_login_at", "created_at")
    column_labels = {"full_name": "Name", "last_login_at": "Last sign-in"}
    column_sortable_list = ("email", "full_name", "active", "last_login_at", "created_at")
    column_default_sort = [("email", False)]
    column_searchable_list = ("email", "full_name")
    column_filters = ("active",)
    column_details_list = ("email", "full_name", "roles", "active", "last_login_at", "created_at")
    form_columns = ("email", "full_name", "roles", "active", "new_password")
    form_create_rules = form_edit_rules = (
        CsrfTokenRule(),
        "email",
        "full_name",
        "roles",
        "active",
        "new_password",
    )
    column_formatters = {"roles": _roles_text}
    form_extra_fields = {
        "new_password": PasswordField("New password", validators=[Optional()]),
    }
    form_args = {
        "roles": {
            "get_label": lambda role: role_label(role.name),
            "query_factory": lambda: sorted(db.session.scalars(select(Role)), key=_role_order),
        }
    }

    def __init__(self, **kwargs: Any):
        super().__init__(
            User, name="Users", endpoint="user", url="users", category="Administration", **kwargs
        )

    def _allowed(self, verb: str) -> bool:
        return can(current_user, "user.manage")

    def create_form(self, obj: Any = None):
        form = super().create_form(obj)
        form.new_password.label.text = "Password"
        form.new_password.description = PASSWORD_HINT
        return form

    def edit_form(self, obj: Any = None):
        form = super().edit_form(obj)
        form.new_password.description = f"{PASSWORD_HINT} Leave empty to keep the current password."
        return form

    def on_model_change(self, form: Any, model: User, is_created: bool) -> None:
        try:
            save_user(
                current_user,
                model,
                is_new=is_created,
                new_password=form.new_password.data,
                keep_session=session_guard.current_token(),
                keep_remember=session_guard.current_remember_cookie(),
            )
        except ValidationFailed as exc:
            self.attach_errors(form, exc.errors)
            raise

    def delete_record(self, model: User) -> None:
        delete_user(current_user, model)


class RoleView(CrmModelView):
    """Roles are fixed (the permission table names them): shown, not edited."""

    column_list = ("name", "description")
    column_labels = {"name": "Role"}
    column_formatters = {"name": _role_name}
    can_view_details = False

    def __init__(self, **kwargs: Any):
        super().__init__(
            Role, name="Roles", endpoint="role", url="roles", category="Administration", **kwargs
        )

    def _allowed(self, verb: str) -> bool:
        return verb == "view" and can(current_user, "user.manage")
