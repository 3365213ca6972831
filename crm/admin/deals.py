"""The Deals admin (Sales > Deals): sales opportunities with their contacts, won or lost
from their page; every save applies the status rules (crm.services.sales.deals, lifecycle)."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for
from flask_admin import expose
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy.orm import selectinload

from crm.admin.base import CrmModelView
from crm.admin.committing import CHANGED_MEANWHILE, commit_or_explain
from crm.admin.fields import EnumSelectField
from crm.admin.forms import CsrfTokenRule, section
from crm.admin.pickers import active_users, company_picker, contact_picker
from crm.auth.permissions import can
from crm.models import Deal, DealStage
from crm.services.platform import access
from crm.services.sales import deals


def _contact_links(_view: Any, _context: Any, model: Deal, _name: str) -> Markup:
    links = [
        Markup('<a href="{}">{}</a>').format(url_for("contact.details_view", id=c.id), c)
        for c in model.contacts
        if c.deleted_at is None
    ]
    return Markup(", ").join(links)


def _amount(_view: Any, _context: Any, model: Deal, _name: str) -> str:
    return "" if model.amount is None else f"{model.amount:,.2f} {model.currency}"


class DealView(CrmModelView):
    permission_prefix = "deal"

    def _allowed(self, verb: str) -> bool:
        # Creating one asks the same right as editing one.
        return can(current_user, f"deal.{'edit' if verb == 'create' else verb}")

    create_template = "admin/sectioned_create.html"
    edit_template = "admin/sectioned_edit.html"
    details_template = "admin/deal_details.html"
    column_list = ("title", "contacts", "account", "amount", "stage", "expected_close", "owner")
    column_labels = {"expected_close": "Expected close", "closed_at": "Closed"}
    column_formatters = {"contacts": _contact_links, "amount": _amount}
    column_formatters_detail = {"contacts": _contact_links, "amount": _amount}
    column_sortable_list = ("title", "amount", "stage", "expected_close")
    column_default_sort = [("expected_close", False), ("id", True)]
    column_searchable_list = ("title",)
    column_filters = ("stage", "owner", "expected_close", "closed_at", "amount", "currency")
    column_details_list = ("title", "contacts", "account", "amount", "stage", "expected_close",
                           "closed_at", "owner", "notes", "created_at", "updated_at")  # fmt: skip
    form_columns = ("title", "contacts", "account", "amount", "currency", "stage",
                    "expected_close", "owner", "notes")  # fmt: skip
    form_create_rules = form_edit_rules = (
        CsrfTokenRule(),
        section("Deal", "title", "contacts", "account", "stage", "expected_close", "owner"),
        section("Value", "amount", "currency"),
        section("Notes", "notes"),
    )
    form_extra_fields = {
        "stage": EnumSelectField(
            "Stage", enum_cls=DealStage, default="open",
            description="Won or lost moves the contacts' statuses",
        ),
    }  # fmt: skip
    form_args = {
        "currency": {"description": "ISO code: EUR, USD, GBP, ..."},
        "owner": {"allow_blank": True, "blank_text": "—", "query_factory": active_users},
    }

    def __init__(self, **kwargs: Any):
        self.form_ajax_refs = {
            "contacts": contact_picker("contacts"),
            "account": company_picker("account"),  # fmt: skip
        }
        super().__init__(
            Deal, name="Deals", endpoint="deal", url="deal", category="Sales", **kwargs
        )

    def get_query(self):
        return (
            super()
            .get_query()
            .filter(access.deal_visibility(current_user))
            .options(
                selectinload(Deal.contacts), selectinload(Deal.owner), selectinload(Deal.account)
            )
        )

    def get_count_query(self):
        return super().get_count_query().filter(access.deal_visibility(current_user))

    def create_form(self, obj: Any = None):
        form = super().create_form(obj)
        contact_id = request.args.get("contact_id", type=int)
        if request.method == "GET" and contact_id:  # "New deal" from a contact's page
            contact = access.get_visible_contact(current_user, contact_id)
            if contact is not None:
                form.contacts.data = [contact]
        return form

    def create_model(self, form: Any):
        model = self.build_new_instance()
        return model if self._save(form, model, is_new=True) else False

    def update_model(self, form: Any, model: Deal) -> bool:
        return self._save(form, model, is_new=False)

    def _save(self, form: Any, model: Deal, *, is_new: bool) -> bool:
        def change() -> None:
            form.populate_obj(model)
            deals.save_deal(current_user, model, is_new=is_new)

        return self.save_and_commit(form, change)

    def delete_record(self, model: Deal) -> None:
        deals.delete_deal(current_user, model)

    def render(self, template: str, **kwargs: Any):
        if template == self.details_template:
            kwargs["may_close"] = can(current_user, "deal.edit")
            kwargs["stages"] = DealStage
        return super().render(template, **kwargs)

    @expose("/<int:deal_id>/stage/", methods=("POST",))
    def stage(self, deal_id: int):
        """Mark the deal won or lost, or open it again (the buttons on its page)."""
        if not can(current_user, "deal.edit"):
            return self.inaccessible_callback("stage")
        deal = self.get_one(deal_id)
        try:
            stage = DealStage(request.form.get("stage", ""))
        except ValueError:
            flash("Choose won, lost or open.", "error")
            return redirect(url_for(".details_view", id=deal_id))
        with commit_or_explain(conflict_message=CHANGED_MEANWHILE) as outcome:
            deals.close_deal(current_user, deal, stage)
        if outcome:
            flash(f"Deal {deal.title!r} is {stage.label.lower()} now.", "success")
        return redirect(url_for(".details_view", id=deal_id))
