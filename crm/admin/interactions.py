"""The Interactions admin (Activities > Interactions, as in SECUTIX): every call, email, letter,
meeting and document registered with the contacts the user sees, with filters by medium,
direction, status, operator and date; the contact card registers them too."""

from __future__ import annotations

from typing import Any

from flask import request, url_for
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy.orm import selectinload

from crm.admin.base import CrmModelView
from crm.admin.fields import EnumSelectField
from crm.admin.forms import CsrfTokenRule, section
from crm.admin.list_filters import EnumEqual, IntEqual
from crm.admin.pickers import active_users, contact_picker
from crm.auth.permissions import can
from crm.models import Contact, Direction, Interaction, InteractionStatus, Medium
from crm.services.card import interactions
from crm.services.platform import access


def _contact_link(_view: Any, _context: Any, model: Interaction, _name: str) -> Markup:
    contact = model.contact
    if contact is None:
        return Markup("")
    url = url_for("contact.details_view", id=contact.id, tab="interactions")
    return Markup('<a href="{}">{}</a>').format(url, contact)


def _direction(_view: Any, _context: Any, model: Interaction, _name: str) -> str:
    return "Out" if model.direction == Direction.OUT else "In"


class InteractionView(CrmModelView):
    permission_prefix = "interaction"
    create_template = "admin/sectioned_create.html"
    edit_template = "admin/sectioned_edit.html"
    column_list = ("occurred_at", "contact", "medium", "direction", "subject", "operator",
                   "status")  # fmt: skip
    column_labels = {"occurred_at": "When", "contact_id": "Contact id"}
    column_formatters = {"contact": _contact_link, "direction": _direction}
    column_formatters_detail = {"contact": _contact_link}
    column_sortable_list = ("occurred_at", "medium", "status")
    column_default_sort = [("occurred_at", True), ("id", True)]
    column_searchable_list = ("subject",)
    named_filter_urls = True  # stable links: ?flt0_medium_equals=call
    column_details_list = ("occurred_at", "contact", "medium", "direction", "status", "subject",
                           "body", "address", "operator", "created_by", "created_at")  # fmt: skip
    form_columns = ("contact", "medium", "direction", "status", "occurred_at", "subject",
                    "body", "operator")  # fmt: skip
    form_create_rules = form_edit_rules = (
        CsrfTokenRule(),
        section(
            "Interaction", "contact", "medium", "direction", "status", "occurred_at", "operator"
        ),  # fmt: skip
        section("What", "subject", "body"),
    )
    form_extra_fields = {
        "medium": EnumSelectField("Medium", enum_cls=Medium, default="call"),
        "direction": EnumSelectField(
            "Direction", enum_cls=Direction, default="out",
            description="Out: we contacted them; in: they contacted us",
        ),
        "status": EnumSelectField("Status", enum_cls=InteractionStatus, default="open"),
    }  # fmt: skip
    form_args = {
        "operator": {"allow_blank": True, "blank_text": "—", "query_factory": active_users},
        "occurred_at": {"description": "Empty: now (UTC)"},
    }

    def _allowed(self, verb: str) -> bool:
        if verb == "view":
            return can(current_user, "contact.view")
        return can(current_user, "interaction.edit")

    def __init__(self, **kwargs: Any):
        self.column_filters = (
            EnumEqual(Interaction.medium, "Medium", options=Medium.choices()),
            EnumEqual(Interaction.direction, "Direction", options=Direction.choices()),
            EnumEqual(Interaction.status, "Status", options=InteractionStatus.choices()),
            "operator",
            "occurred_at",
            IntEqual(Interaction.contact_id, "Contact id"),
        )
        self.form_ajax_refs = {
            "contact": contact_picker("contact"),
        }
        super().__init__(Interaction, name="Interactions", endpoint="interaction",
                         url="interactions", category="Activities", **kwargs)  # fmt: skip

    def get_query(self):
        return (
            super()
            .get_query()
            .join(Contact, Contact.id == Interaction.contact_id)
            .filter(access.contact_visibility(current_user))
            .options(selectinload(Interaction.contact), selectinload(Interaction.operator))
        )

    def get_count_query(self):
        return (
            super()
            .get_count_query()
            .join(Contact, Contact.id == Interaction.contact_id)
            .filter(access.contact_visibility(current_user))
        )

    def create_form(self, obj: Any = None):
        form = super().create_form(obj)
        contact_id = request.args.get("contact_id", type=int)
        if request.method == "GET" and contact_id:
            contact = access.get_visible_contact(current_user, contact_id)
            if contact is not None:
                form.contact.data = contact
        if request.method == "GET" and form.operator.data is None:
            form.operator.data = current_user._get_current_object()
        return form

    def create_model(self, form: Any):
        model = self.build_new_instance()
        return model if self._save(form, model) else False

    def update_model(self, form: Any, model: Interaction) -> bool:
        return self._save(form, model)

    def _save(self, form: Any, model: Interaction) -> bool:
        def change() -> None:
            form.populate_obj(model)
            model.contact_id = model.contact.id if model.contact is not None else None
            model.operator_id = model.operator.id if model.operator is not None else None
            interactions.save_interaction(current_user, model)

        return self.save_and_commit(form, change)

    def delete_record(self, model: Interaction) -> None:
        interactions.delete_interaction(current_user, model)
