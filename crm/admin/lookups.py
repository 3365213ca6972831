"""List management: the lookup lists list managers edit (types, categories, criteria)."""

from __future__ import annotations

from typing import Any

from flask_login import current_user

from crm.admin.base import CrmModelView
from crm.admin.fields import EnumSelectField
from crm.auth.permissions import can
from crm.errors import ValidationFailed
from crm.models import AddressType, Category, Criterion, CriterionScope, PhoneType, SocialPlatform
from crm.services.lookups import delete_lookup, save_lookup


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
    """Seed 002: the categories contacts are filed under."""

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


class CriterionView(LookupView):
    """Seed 004: manual classification values, offered for individuals, companies or both."""

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
