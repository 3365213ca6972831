"""The Accounts admin: companies and the contacts stored in each."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for
from flask_admin.actions import action
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy.orm import selectinload

from crm.admin.base import CrmModelView
from crm.admin.forms import CsrfTokenRule
from crm.admin.maps import places_of
from crm.admin.pickers import active_users
from crm.auth.permissions import can
from crm.models import Account, Criterion, CriterionScope
from crm.services.contacts.accounts import (
    contact_counts,
    contacts_of_account,
    delete_account,
    save_account,
)
from crm.services.lists.lookups import criteria_for
from crm.services.merge.old_links import merge_successor
from crm.services.merge.plan import MAX_MERGED
from crm.services.platform import access


def _contacts_link(view: Any, _context: Any, model: Account, _name: str) -> Markup:
    count = getattr(model, "_contact_count", None)
    return Markup('<a href="{}">{} contact(s)</a>').format(
        view.get_url(".details_view", id=model.id), "?" if count is None else count
    )


def _company_criteria() -> list[Criterion]:
    """The criteria an account may be given (contacts have those for individuals)."""
    return criteria_for(CriterionScope.COMPANIES)


class AccountView(CrmModelView):
    permission_prefix = "account"
    details_template = "admin/account_details.html"
    column_list = ("name", "contacts", "website", "owner", "updated_at")
    column_labels = {"contacts": "Contacts", "updated_at": "Updated"}
    column_formatters = {"contacts": _contacts_link}
    column_sortable_list = ("name", "updated_at")
    column_default_sort = [("name", False), ("id", False)]
    column_searchable_list = ("name",)
    column_filters = ("name", "created_at", "updated_at")
    column_details_list = (
        "name",
        "website",
        "owner",
        "access_class",
        "criteria",
        "notes",
        "created_at",
        "updated_at",
    )
    column_formatters_detail = {
        "criteria": lambda v, c, m, n: ", ".join(item.name for item in m.criteria),
    }
    form_columns = ("name", "website", "owner", "access_class", "criteria", "notes")
    form_create_rules = form_edit_rules = (
        CsrfTokenRule(),
        "name",
        "website",
        "owner",
        "access_class",
        "criteria",
        "notes",
    )
    form_args = {
        "access_class": {
            "label": "Access class",
            "allow_blank": True,
            "blank_text": "— (none)",
            "query_factory": lambda: access.visible_classes(current_user),
            "description": "Only users granted this class (and the owner) see the account; "
            "new contacts of the account are put in it too",
        },
        "owner": {
            "allow_blank": True,
            "blank_text": "—",
            "query_factory": active_users,
        },
        "criteria": {
            "label": "Criteria",
            "query_factory": _company_criteria,
            "get_label": lambda item: item.name if item.active else f"{item.name} (inactive)",
            "description": "The company's characteristics (contacts have their own)",
        },
    }

    def __init__(self, **kwargs: Any):
        super().__init__(Account, name="Accounts", endpoint="account", url="account", **kwargs)

    def get_query(self):
        # Hidden (B2C personal) accounts are not companies: they stay out of this list.
        return (
            super()
            .get_query()
            .filter(access.account_visibility(current_user), Account.is_hidden.is_(False))
            .options(selectinload(Account.owner))
        )

    def get_count_query(self):
        return (
            super()
            .get_count_query()
            .filter(access.account_visibility(current_user), Account.is_hidden.is_(False))
        )

    def get_list(self, *args: Any, **kwargs: Any):
        count, rows = super().get_list(*args, **kwargs)
        # One grouped query for the page's contact counts, not one per row.
        counts = contact_counts(current_user, [row.id for row in rows])
        for row in rows:
            row._contact_count = counts.get(row.id, 0)
        return count, rows

    def render(self, template: str, **kwargs: Any):
        model = kwargs.get("model")
        if template == self.details_template and model is not None:
            kwargs["account_contacts"] = contacts_of_account(current_user, model.id)
            kwargs["places"] = [
                {**place, "label": f"{contact.full_name}, {place['label']}"}
                for contact in kwargs["account_contacts"]
                for place in places_of(contact.addresses)
            ]
            kwargs["can_view_contacts"] = can(current_user, "contact.view")
        return super().render(template, **kwargs)

    def create_form(self, obj: Any = None):
        return self._lock_class_unless_allowed(super().create_form(obj))

    def edit_form(self, obj: Any = None):
        form = super().edit_form(obj)
        retired = [item for item in (obj.criteria if obj is not None else []) if not item.active]
        if retired:  # kept by the account that has them, never offered anew
            form.criteria.query = [*_company_criteria(), *retired]
        return self._lock_class_unless_allowed(form)

    def _lock_class_unless_allowed(self, form: Any) -> Any:
        if not can(current_user, "contact.set_class"):
            form.access_class.render_kw = {"disabled": True}
            form.access_class.description = "Only managers may change the access class."
        return form

    def create_model(self, form: Any):
        model = self.build_new_instance()
        return model if self._save(form, model, is_new=True) else False

    def update_model(self, form: Any, model: Account) -> bool:
        return self._save(form, model, is_new=False)

    def _save(self, form: Any, model: Account, *, is_new: bool) -> bool:
        previous_owner_id = model.owner_id

        if "access_class" not in request.form:  # not posted (disabled): unchanged
            form.access_class.data = None if is_new else model.access_class

        def change() -> None:
            form.populate_obj(model)
            save_account(current_user, model, is_new=is_new, previous_owner_id=previous_owner_id)

        return self.save_and_commit(form, change)

    def merge_successor(self, pk: int) -> tuple[Any, Any] | None:
        return merge_successor(current_user, Account, pk)

    def delete_record(self, model: Account) -> None:
        delete_account(current_user, model)

    def is_action_allowed(self, name: str) -> bool:
        if name == "merge":
            return can(current_user, "contact.merge")
        return super().is_action_allowed(name)

    @action("merge", "Merge…")
    def action_merge(self, ids: list[str]):
        """Open the merge page for the ticked accounts."""
        if not 2 <= len(ids) <= MAX_MERGED:
            flash(f"Tick two to {MAX_MERGED} accounts to merge.", "error")
            return None
        return redirect(url_for("merge.accounts", ids=ids))
