"""The Leads admin (Sales > Leads): list, filters, form, and "Convert to customer contact"
(a button on the lead's page and a bulk action), over crm.services.sales.leads."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy.orm import selectinload
from wtforms import SelectField
from wtforms.validators import Optional

from crm.admin.base import CrmModelView
from crm.admin.committing import CHANGED_MEANWHILE, commit_or_explain
from crm.admin.fields import EnumRadioField, EnumSelectField, blank_choices
from crm.admin.forms import CsrfTokenRule, section
from crm.admin.pickers import active_users
from crm.auth.permissions import can
from crm.errors import DomainError, ValidationFailed
from crm.extensions import db
from crm.models import ContactKind, Lead, LeadStatus
from crm.services.contacts.batch import begin_for_savepoints
from crm.services.platform.validation import country_choices
from crm.services.sales import leads


def _whole_name(view: Any, _context: Any, model: Lead, _name: str) -> Markup:
    """The list's Name column: the whole name (sorted by last name), opening the lead."""
    return Markup('<a href="{}">{}</a>').format(
        view.get_url(".details_view", id=model.id), model.full_name or f"Lead #{model.id}"
    )


def _converted_link(_view: Any, _context: Any, model: Lead, _name: str) -> Markup | str:
    if model.converted_contact_id is None:
        return ""
    return Markup('<a href="{}">{}</a>').format(
        url_for("contact.details_view", id=model.converted_contact_id),
        model.converted_contact or f"#{model.converted_contact_id}",
    )


class LeadView(CrmModelView):
    permission_prefix = "lead"

    def _allowed(self, verb: str) -> bool:
        # Creating one asks the same right as editing one.
        return can(current_user, f"lead.{'edit' if verb == 'create' else verb}")

    create_template = "admin/sectioned_create.html"
    edit_template = "admin/sectioned_edit.html"
    details_template = "admin/lead_details.html"
    column_list = ("name", "company", "email", "status", "source", "owner", "created_at")
    column_labels = {"name": "Name", "first_name": "First name", "last_name": "Last name",
                     "created_at": "Created", "converted_contact": "Contact"}  # fmt: skip
    column_sortable_list = ("last_name", "company", "status", "created_at")
    column_default_sort = [("created_at", True), ("id", True)]
    column_searchable_list = ("first_name", "last_name", "email", "company")
    column_filters = ("status", "kind", "source", "owner", "created_at")
    column_formatters = {"name": _whole_name, "converted_contact": _converted_link}
    column_details_list = (
        "status", "kind", "title", "first_name", "last_name", "company", "job_title", "email",
        "phone", "website", "city", "country", "source", "owner", "notes", "converted_contact",
        "converted_at", "converted_by", "created_at", "updated_at",
    )  # fmt: skip
    form_columns = (
        "kind", "status", "title", "first_name", "last_name", "company", "job_title", "email",
        "phone", "website", "city", "country", "source", "owner", "notes",
    )  # fmt: skip
    form_create_rules = form_edit_rules = (
        CsrfTokenRule(),
        section("Lead", "kind", "status", "source", "owner"),
        section("Person", "title", "first_name", "last_name", "company", "job_title"),
        section("Reaching them", "email", "phone", "website", "city", "country"),
        section("Notes", "notes"),
    )
    form_extra_fields = {
        "kind": EnumRadioField(
            "Type", enum_cls=ContactKind, default="b2b",
            description="B2B: the company becomes the account",
        ),
        "status": EnumSelectField(
            "Status", enum_cls=LeadStatus, default="new",
            description="Converted is set by converting the lead",
        ),
        "country": SelectField(
            "Country", validators=[Optional()], choices=blank_choices(country_choices())
        ),
    }  # fmt: skip
    form_args = {
        "phone": {"description": "Checked when the lead is converted, in its country"},
        "owner": {"allow_blank": True, "blank_text": "—", "query_factory": active_users},
    }

    def __init__(self, **kwargs: Any):
        super().__init__(
            Lead, name="Leads", endpoint="lead", url="lead", category="Sales", **kwargs
        )

    def get_query(self):
        return super().get_query().options(selectinload(Lead.owner))

    def get_sortable_columns(self):
        # The Name column (the whole name) sorts by last name.
        columns = super().get_sortable_columns()
        columns["name"] = columns.pop("last_name")
        return columns

    def render(self, template: str, **kwargs: Any):
        model = kwargs.get("model")
        if template == self.details_template and model is not None:
            kwargs["may_convert"] = can(current_user, "lead.convert")
            kwargs["refusal"] = leads.conversion_refusal(model)
        return super().render(template, **kwargs)

    def create_form(self, obj: Any = None):
        return self._statuses(super().create_form(obj), obj)

    def edit_form(self, obj: Any = None):
        return self._statuses(super().edit_form(obj), obj)

    def _statuses(self, form: Any, lead: Lead | None) -> Any:
        """Converted is not chosen but set by converting; a converted lead shows it, fixed."""
        if lead is not None and lead.status == LeadStatus.CONVERTED:
            form.status.render_kw = {"disabled": True}
        else:
            form.status.choices = [c for c in form.status.choices if c.value != "converted"]
        return form

    def create_model(self, form: Any):
        model = self.build_new_instance()
        return model if self._save(form, model, is_new=True) else False

    def update_model(self, form: Any, model: Lead) -> bool:
        return self._save(form, model, is_new=False)

    def _save(self, form: Any, model: Lead, *, is_new: bool) -> bool:
        def change() -> None:
            form.populate_obj(model)
            leads.save_lead(current_user, model, is_new=is_new)

        return self.save_and_commit(form, change)

    def delete_record(self, model: Lead) -> None:
        leads.delete_lead(current_user, model)

    # ---- conversion -----------------------------------------------------------------------
    @expose("/convert/<int:lead_id>/", methods=("POST",))
    def convert(self, lead_id: int):
        """Convert one lead (the button on its page); the contact's page opens."""
        if not can(current_user, "lead.convert"):
            return self.inaccessible_callback("convert")
        lead = self.get_one(lead_id)
        with commit_or_explain(quiet=True, conflict_message=CHANGED_MEANWHILE) as outcome:
            contact = leads.convert_lead(current_user, lead)
        if not outcome:
            for field, messages in outcome.errors.items():
                flash(f"Not converted: {field.replace('_', ' ')}: {'; '.join(messages)}", "error")
            if not outcome.errors:
                flash(f"Not converted: {outcome.message}", "error")
            return redirect(url_for(".details_view", id=lead_id))
        flash(f"Lead converted: {contact} is a customer contact now.", "success")
        return redirect(url_for("contact.details_view", id=contact.id))

    def is_action_allowed(self, name: str) -> bool:
        if name == "convert":
            return can(current_user, "lead.convert")
        return super().is_action_allowed(name)

    @action("convert", "Convert to customer contacts", "Convert the selected leads?")
    def action_convert(self, ids: list[str]) -> None:
        """Convert the ticked leads, each on its own: one refused (converted already, or a
        wrong phone number) is reported and does not stop the others."""
        wanted = [int(i) for i in ids if str(i).isdigit()]
        records = self.get_query().filter(Lead.id.in_(wanted)).order_by(Lead.id).all()
        converted, refused = 0, []
        begin_for_savepoints()
        for lead in records:
            savepoint = db.session.begin_nested()
            try:
                leads.convert_lead(current_user, lead)
                savepoint.commit()
                converted += 1
            except DomainError as exc:
                savepoint.rollback()
                reason = exc.message
                if isinstance(exc, ValidationFailed):
                    reason = "; ".join(m for ms in exc.errors.values() for m in ms)
                refused.append(f"{lead}: {reason}")
        db.session.commit()
        flash(f"{converted} lead(s) converted to customer contacts.", "success")
        for message in refused[:20]:
            flash(f"Not converted: {message}", "error")
