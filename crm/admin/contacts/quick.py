"""Quick create: a short dialog (names, email, phone, account) that creates a contact from the
contact list or from any contact picker, and answers JSON for the dialog's script
(crm/static/quick_create.js, the markup in templates/admin/quick_create.html).

The contact is made by `create_contact`, as the API makes one, so the contact rules give it
the same defaults and checks as the full form: no account makes a consumer (B2C) whose name
becomes their hidden account; an account makes them work for it (B2B). A contact that looks
like existing ones is not saved until the user says "Save anyway".

Answers: 201 {id, label, name, url} when saved; 409 {error, duplicates} for look-alikes;
422 {error, fields} with each message on its dialog field; 403 for a role that may not
create contacts (and 400 for a missing CSRF token, from the app's error handler).
"""

from __future__ import annotations

from typing import Any

from flask import flash, jsonify, request, url_for
from flask_admin import expose
from flask_login import current_user
from markupsafe import Markup

from crm.admin.committing import NOTHING_SAVED, commit_or_explain
from crm.admin.pickers import ContactAjaxLoader
from crm.auth.permissions import can
from crm.services.contacts.saving import LooksLikeExisting, create_contact
from crm.services.platform import access

# The dialog's fields, in order (the names the full form gives them, and "phone").
QUICK_FIELDS = ("first_name", "last_name", "email", "phone", "account")


def _text(name: str) -> str | None:
    value = (request.form.get(name) or "").strip()
    return value or None


def _field_of(key: str) -> str:
    """The dialog field a contact rule's error key belongs to (its only phone row's errors
    go to "phone"; a field the dialog does not have: the dialog's general message)."""
    if key.startswith("phones-"):
        return "phone"
    return key if key in QUICK_FIELDS else "form"


def _refused(status: int, message: str, **extra: Any):
    return jsonify(error=message, **extra), status


def quick_create_offer(view: Any) -> dict[str, Any] | None:
    """What a page offers of quick create (for templates/admin/crm_base.html): None where it
    does not; else {"pickers": the names of the page's contact pickers} on a record's form
    with contact pickers and on a contact's card (its connections' picker), and on the
    contact list (no pickers: its button opens it)."""
    if not current_user.is_authenticated or not can(current_user, "contact.create"):
        return None
    endpoint = request.endpoint or ""
    if endpoint == "contact.index_view":
        return {"pickers": []}
    if endpoint == "contact.details_view":  # the card's "is linked to" another contact
        return {"pickers": ["other_id"]}
    if endpoint.endswith((".create_view", ".edit_view")):
        refs = getattr(view, "form_ajax_refs", None) or {}
        names = [name for name, loader in refs.items() if isinstance(loader, ContactAjaxLoader)]
        if names:
            return {"pickers": names}
    return None


class ContactQuickCreate:
    """The contact view's quick-create endpoint, /admin/contact/quick/ (POST, JSON)."""

    @expose("/quick/", methods=("POST",))
    def quick_create_view(self):
        if not can(current_user, "contact.create"):
            return _refused(403, "You may not create contacts.")
        data: dict[str, Any] = {
            "first_name": _text("first_name"),
            "last_name": _text("last_name"),
            "email": _text("email"),
        }
        phone = _text("phone")
        if phone:
            data["phones"] = [{"number": phone}]
        account_id = _text("account")
        if account_id:
            account = access.get_visible_account(current_user, account_id)
            if account is None or account.is_hidden:
                fields = {"account": ["Choose the account from the list."]}
                return _refused(422, NOTHING_SAVED, fields=fields)
            data["account"] = account  # works for it (B2B); none: a consumer (B2C)
        allow_duplicates = bool(request.form.get("save_anyway"))
        duplicates: list[dict[str, Any]] = []
        with commit_or_explain(what="contact", quiet=True) as outcome:
            try:
                contact = create_contact(current_user, data, allow_duplicates=allow_duplicates)
            except LooksLikeExisting as exc:
                duplicates = [_match_json(match, reasons) for match, reasons in exc.matches]
                outcome.discard()
        if duplicates:
            return _refused(409, "This contact may already exist.", duplicates=duplicates)
        if not outcome:
            if outcome.errors:
                fields: dict[str, list[str]] = {}
                for key, messages in outcome.errors.items():
                    fields.setdefault(_field_of(key), []).extend(messages)
                return _refused(422, NOTHING_SAVED, fields=fields)
            return _refused(400, outcome.message or "The contact was not saved.")
        card = url_for("contact.details_view", id=contact.id)
        if request.form.get("announce"):  # the list reloads and says so
            flash(
                Markup(
                    '{} was created. <a href="{}" class="alert-link" data-quick-created="{}" '
                    'data-name="{}">Open the card</a>'
                ).format(contact.full_name, card, contact.id, contact.full_name),
                "success",
            )
        # `label` is what the contact pickers show for a contact (their loader's format).
        return jsonify(id=contact.id, label=str(contact), name=contact.full_name, url=card), 201


def _match_json(match: Any, reasons: list[str]) -> dict[str, Any]:
    account = match.account
    return {
        "name": match.full_name,
        "url": url_for("contact.details_view", id=match.id),
        "account": account.name if account is not None and not account.is_hidden else None,
        "email": match.email,
        "reasons": reasons,
    }
