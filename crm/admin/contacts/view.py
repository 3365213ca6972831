"""The contact admin's view (endpoint "contact", URL /admin/contact/): its configuration, the
details page, and the save and delete hooks. The form, the list, bulk work and quick create
are its mixins (form, listing, bulk, quick); this is the one place that assembles them."""

from __future__ import annotations

import re
from typing import Any

from flask import flash, request
from flask_login import current_user
from markupsafe import Markup

from crm.admin.base import CrmModelView
from crm.admin.committing import attach_errors, commit_or_explain
from crm.admin.contact_card import card_of
from crm.admin.contact_lifecycle import lifecycle_of
from crm.admin.contacts import columns as contact_columns
from crm.admin.contacts.bulk import ContactBulk
from crm.admin.contacts.form import PROFILE_FIELDS, ContactForm, form_pickers, inline_entry
from crm.admin.contacts.listing import ContactListing
from crm.admin.contacts.quick import ContactQuickCreate
from crm.auth.permissions import can
from crm.extensions import db
from crm.models import Contact
from crm.services.contacts.details import live_rows
from crm.services.contacts.saving import LooksLikeExisting, save_contact
from crm.services.contacts.trash import delete_contact
from crm.services.merge import old_links
from crm.services.merge.undo import merges_of
from crm.services.platform.validation import language_choices


class ContactView(ContactForm, ContactListing, ContactBulk, ContactQuickCreate, CrmModelView):
    permission_prefix = "contact"
    list_template = "admin/contact_list.html"
    details_template = "admin/contact_details.html"
    create_template = "admin/contact_create.html"
    edit_template = "admin/contact_edit.html"

    column_labels = {
        "last_name": "Name",
        "account": "Account",
        "phones": "Phone",
        "customer_status": "Customer status",
        "prospect_status": "Prospect status",
        "email_secondary": "Secondary email",
        "email_marketing": "Accepts email marketing",
        "do_not_email": "Do not send emails",
        "do_not_call": "Do not call",
        "is_primary": "Primary contact",
        "linked_accounts": "Other accounts",
        "kind": "Contact type",
        "job_title": "Job title",
        "updated_at": "Updated",
        "created_at": "Created",
        "contact_preference": "Contact preference",
        "other_contacts": "Other contacts",
        "title": "Title (Mr, Ms, Dr...)",
    }

    column_details_list = (
        "kind",
        "title",
        "first_name",
        "middle_name",
        "last_name",
        *PROFILE_FIELDS,
        "job_title",
        "department",
        "manager",
        "certificate",
        "timezone",
        "language",
        "other_contacts",
        "notes",
        "active",
        "customer_number",
        "customer_currency",
        "payment_terms_days",
        "created_at",
        "updated_at",
    )
    column_formatters_detail = {
        "tags": contact_columns.FORMATTERS["tags"],
        "account": contact_columns.FORMATTERS["account"],
        "birthday": contact_columns.FORMATTERS["birthday"],
        "language": lambda v, c, m, n: dict(language_choices()).get(
            (m.language or "").split("-")[0], m.language or ""
        ),
        "website": lambda v, c, m, n: (
            Markup('<a href="{}" rel="noopener noreferrer" target="_blank">{}</a>').format(
                m.website, m.website
            )
            if m.website
            else ""
        ),
    }
    # The list calls the last-name column "Name"; the details page names every field.
    _detail_labels = {
        "last_name": "Last name",
        "first_name": "First name",
        "middle_name": "Middle name",
        "timezone": "Time zone",
        "customer_number": "Customer number",
        "customer_currency": "Customer currency",
        "payment_terms_days": "Payment terms (days)",
    }

    deleted_one = "Moved to the trash: Contacts > Trash lists it, and can put it back."
    deleted_many = "{count} contact(s) moved to the trash: Contacts > Trash can put them back."

    def __init__(self, **kwargs: Any):
        self.form_ajax_refs = form_pickers()
        self.column_filters = self.list_filters()
        super().__init__(
            Contact,
            name="Contacts",
            endpoint="contact",
            url="contact",
            category="Contacts",
            **kwargs,
        )

    # ---- the details page ------------------------------------------------------------
    def get_details_columns(self):
        return [
            (c, self._detail_labels.get(c, label)) for c, label in super().get_details_columns()
        ]

    def merge_successor(self, pk: int) -> tuple[Any, Any] | None:
        return old_links.merge_successor(current_user, Contact, pk)

    def render(self, template: str, **kwargs: Any):
        model = kwargs.get("model")
        if template == self.details_template and model is not None:
            allowed = can(current_user, "contact.merge")
            kwargs["merges"] = merges_of("contact", model.id) if allowed else []
            kwargs["lifecycle"] = lifecycle_of(current_user, model)
            kwargs["card"] = card_of(current_user, model, request.args)
        return super().render(template, **kwargs)

    # ---- saving ----------------------------------------------------------------------
    def create_model(self, form: Any):
        model = self.build_new_instance()
        return model if self._save(form, model, is_new=True) else False

    def update_model(self, form: Any, model: Contact) -> bool:
        return self._save(form, model, is_new=False)

    def _save(self, form: Any, model: Contact, *, is_new: bool) -> bool:
        previous_owner_id = model.owner_id
        try:
            expected = int(form.expected_version.data) if form.expected_version.data else None
        except ValueError:
            expected = -1
        # A field the page did not post (a disabled picker) keeps the record's value.
        if "owner" not in request.form:
            form.owner.data = current_user._get_current_object() if is_new else model.owner
        if "responsible" not in request.form:
            form.responsible.data = None if is_new else model.responsible
        if "access_class" not in request.form:  # not posted: unchanged (or the account's)
            form.access_class.data = None if is_new else model.access_class
        posted_tags = "tags" in request.form  # a post without the field leaves tags alone

        def attach(form: Any, errors: dict[str, list[str]]) -> None:
            self._attach_errors(form, model, errors)

        with commit_or_explain(form, what="contact", attach=attach) as outcome:
            with db.session.no_autoflush:
                form.populate_obj(model)
            try:
                save_contact(
                    current_user,
                    model,
                    is_new=is_new,
                    expected_version=expected,
                    previous_owner_id=previous_owner_id,
                    tag_names=(form.tags.data or []) if posted_tags else None,
                    allow_duplicates=bool(request.form.get("save_anyway")),
                )
            except LooksLikeExisting as exc:
                self._show_duplicates(exc)
                outcome.discard()
        return bool(outcome)

    def _show_duplicates(self, found: LooksLikeExisting) -> None:
        """The existing contacts the new one looks like, above the form (with "Save
        anyway"); nothing is saved yet."""
        self._template_args["duplicate_matches"] = [
            {
                "id": match.id,
                "name": match.full_name,
                "account": match.account.name
                if match.account is not None and not match.account.is_hidden
                else None,
                "email": match.email,
                "reasons": reasons,
            }
            for match, reasons in found.matches
        ]
        flash(found.message, "warning")

    def _attach_errors(self, form: Any, contact: Contact, errors: dict[str, list[str]]) -> None:
        """The rules name an inline row's field by its position among the live rows
        ("phones-1-number"): its error goes to the entry that filled that row."""

        def find(key: str) -> Any:
            match = re.fullmatch(r"(phones|addresses|social_links)-(\d+)-(\w+)", key)
            if not match:
                return getattr(form, key, None)
            relation, index, field_name = match.groups()
            rows = live_rows(getattr(contact, relation))
            entry = inline_entry(rows[int(index)]) if int(index) < len(rows) else None
            target = getattr(entry, field_name, None) if entry is not None else None
            return target if target is not None else getattr(form, relation, None)

        attach_errors(form, errors, find)

    def delete_record(self, model: Contact) -> None:
        delete_contact(current_user, model)
