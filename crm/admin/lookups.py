"""List management: the lookup lists list managers edit (types, categories, criteria), and
the access classes administrators grant."""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select

from crm.admin.base import CrmModelView
from crm.admin.fields import EnumSelectField
from crm.auth.permissions import can
from crm.errors import ValidationFailed
from crm.extensions import db
from crm.models import (
    AccessClass,
    AddressType,
    Category,
    ConnectionType,
    Criterion,
    CriterionScope,
    PhoneType,
    SocialPlatform,
    User,
)
from crm.services.lists.lookups import delete_lookup, save_lookup
from crm.services.platform import access


class LookupView(CrmModelView):
    """Everything is gated by lookup.manage (view, create, edit and delete alike)."""

    permission_prefix = "lookup"
    column_list = ("name", "active", "position")
    column_sortable_list = ("name", "active", "position")
    column_default_sort = [("position", False), ("name", False)]
    column_searchable_list = ("name",)
    form_columns = ("name", "active", "position")
    can_view_details = False
    column_descriptions = {"active": "Inactive types stay on existing records but are not offered"}

    def _allowed(self, verb: str) -> bool:
        return can(current_user, "lookup.manage")

    def on_model_change(self, form: Any, model: Any, is_created: bool) -> None:
        try:
            save_lookup(current_user, model)
        except ValidationFailed as exc:
            self.attach_errors(form, exc.errors)
            raise

    def delete_record(self, model: Any) -> None:
        delete_lookup(current_user, model)


class PhoneTypeView(LookupView):
    def __init__(self, **kwargs: Any):
        super().__init__(
            PhoneType,
            name="Phone types",
            endpoint="phone_type",
            url="phone-types",
            category="List management",
            **kwargs,
        )


class AddressTypeView(LookupView):
    def __init__(self, **kwargs: Any):
        super().__init__(
            AddressType,
            name="Address types",
            endpoint="address_type",
            url="address-types",
            category="List management",
            **kwargs,
        )


class SocialPlatformView(LookupView):
    column_list = ("name", "hosts", "url_template", "active", "position")
    form_columns = ("name", "hosts", "url_template", "handle_pattern", "active", "position")
    column_labels = {
        "hosts": "Web domains",
        "url_template": "Profile URL pattern",
        "handle_pattern": "Handle pattern (regular expression)",
    }
    form_args = {
        "hosts": {
            "description": "Comma-separated domains a profile URL may be on, e.g. linkedin.com"
        },
        "url_template": {
            "description": "How a handle becomes a URL, with {handle}, e.g. "
            "https://www.linkedin.com/in/{handle}"
        },
        "handle_pattern": {"description": "Which handles are accepted, e.g. [A-Za-z0-9_-]{3,100}"},
    }

    def __init__(self, **kwargs: Any):
        super().__init__(
            SocialPlatform,
            name="Social media platforms",
            endpoint="social_platform",
            url="social-platforms",
            category="List management",
            **kwargs,
        )


class CategoryView(LookupView):
    """The categories contacts are filed under (24SevenOffice's Categories tab)."""

    column_descriptions = {
        "active": "Inactive categories stay on existing contacts but are not offered"
    }

    def __init__(self, **kwargs: Any):
        super().__init__(
            Category,
            name="Categories",
            endpoint="category",
            url="categories",
            category="List management",
            **kwargs,
        )


class ConnectionTypeView(LookupView):
    """The kinds of connection between contacts (SECUTIX's Connections), each with its inverse."""

    column_list = ("name", "inverse_name", "active", "position")
    form_columns = ("name", "inverse_name", "active", "position")
    column_labels = {"inverse_name": "Seen from the other contact"}
    form_args = {
        "name": {"description": "What the first contact sees of the second, e.g. Assistant"},
        "inverse_name": {
            "description": "What the second sees of the first, e.g. Assistant to; empty: the "
            "same name (Colleague, Spouse)"
        },
    }

    def __init__(self, **kwargs: Any):
        super().__init__(
            ConnectionType,
            name="Connection types",
            endpoint="connection_type",
            url="connection-types",
            category="List management",
            **kwargs,
        )


class CriterionView(LookupView):
    """Criteria, SECUTIX's manual classification: offered for individuals, companies or both."""

    column_list = ("name", "applies_to", "active", "position")
    column_sortable_list = ("name", "applies_to", "active", "position")
    form_columns = ("name", "applies_to", "active", "position")
    column_labels = {"applies_to": "Offered for"}
    column_filters = ("applies_to",)
    column_descriptions = {
        "active": "Inactive criteria stay on existing records but are not offered",
        "applies_to": "Which records the criterion is offered for",
    }
    form_extra_fields = {
        "applies_to": EnumSelectField("Offered for", enum_cls=CriterionScope, default="both"),
    }

    def __init__(self, **kwargs: Any):
        super().__init__(
            Criterion,
            name="Criteria",
            endpoint="criterion",
            url="criteria",
            category="List management",
            **kwargs,
        )


def _class_members_link(view: Any, _context: Any, model: AccessClass, _name: str) -> Markup:
    """How many contacts are in the class (counted for the page by the list), linking to them."""
    contacts, over = getattr(model, "_contact_count", (0, False))
    label = f"more than {contacts:,}" if over else f"{contacts:,}"
    url = url_for("contact.index_view", flt0_access_class_is=model.id, show="all")
    return Markup('<a href="{}">{} contact(s)</a>').format(url, label)


class AccessClassView(LookupView):
    """Access classes (Webasyst's contact classes), granted to users and roles (admins only)."""

    column_list = ("name", "description", "users", "roles", "contacts", "active")
    column_sortable_list = ("name", "active")
    column_labels = {"users": "Granted to users", "roles": "Granted to roles"}
    column_formatters = {"contacts": _class_members_link}
    form_columns = ("name", "description", "users", "roles", "active", "position")
    column_descriptions = {
        "active": "Inactive classes keep their contacts but are not offered for new ones",
        "users": "These users see the class's contacts and accounts",
        "roles": "Every user holding one of these roles sees them",
    }
    form_args = {
        "users": {
            "label": "Granted to users",
            "query_factory": lambda: _users(),
            "get_label": lambda user: (
                f"{user.full_name} <{user.email}>" if user.full_name else user.email
            ),
        },
        "roles": {"label": "Granted to roles"},
    }

    def __init__(self, **kwargs: Any):
        super().__init__(
            AccessClass,
            name="Access classes",
            endpoint="access_class",
            url="access-classes",
            category="Administration",
            **kwargs,
        )

    def _allowed(self, verb: str) -> bool:
        return can(current_user, "access_class.manage")

    def get_list(self, *args: Any, **kwargs: Any):
        count, rows = super().get_list(*args, **kwargs)
        sizes = access.class_sizes([row.id for row in rows])
        for row in rows:
            row._contact_count = sizes[row.id]
        return count, rows


def _users() -> list[User]:
    return list(db.session.scalars(select(User).order_by(User.email)))
