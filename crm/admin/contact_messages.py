"""Writing to a contact (as in Webasyst CRM): the pages behind the email addresses and phone
numbers of the contact's card. Each compose page is a GET (the form) and a POST (send), opened
by the right contact.message on a contact the user can see; the work is
crm.services.card.messages'."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, request, url_for
from flask_admin import expose
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField

from crm.admin.committing import CHANGED_MEANWHILE, commit_or_explain
from crm.admin.forms import put_errors
from crm.admin.pages import PermissionPage
from crm.models import Contact, Phone
from crm.services.card import messages
from crm.services.card.messages import reach_of
from crm.services.platform import access, sms

__all__ = ["ContactMessagesView", "reach_of"]

FORM_EXPIRED = "The form expired or was not sent from this page: reload it and try again."


class EmailForm(FlaskForm):
    # The service checks the address against the contact's own (with a clearer message than
    # WTForms' "Not a valid choice").
    to = SelectField("To", validate_choice=False)
    subject = StringField("Subject")
    body = TextAreaField("Message")


class SmsForm(FlaskForm):
    phone_id = SelectField("To", validate_choice=False)
    body = TextAreaField("Message")


def _console_note(kind: str) -> str | None:
    """On a development set-up, say that the message stays in the server's log."""
    if kind == "email" and current_app.config.get("CRM_MAIL_BACKEND", "console") == "console":
        return (
            "Development set-up: the email is written to the server's log, not sent "
            "(CRM_MAIL_BACKEND=console)."
        )
    if kind == "sms" and sms.sms_backend_name() == "console":
        return (
            "Development set-up: the SMS is written to the server's log, not sent "
            "(CRM_SMS_BACKEND=console)."
        )
    return None


def _phone_choice(phone: Phone) -> str:
    """ "Mobile: +44 7400 123456" (the extension of a desk line does not take SMS)."""
    number = phone.formatted or phone.e164 or phone.number
    return f"{phone.phone_type.name}: {number}" if phone.phone_type else number


class ContactMessagesView(PermissionPage):
    """The email and SMS compose pages of a contact (not in the menu)."""

    permission = "contact.message"

    def __init__(self, **kwargs: Any):
        super().__init__(name="Write to a contact", endpoint="contact_messages",
                         url="/admin/contact-messages", **kwargs)  # fmt: skip

    def is_visible(self) -> bool:
        return False

    @expose("/")
    def index(self):
        """Nothing to show here: the pages open from each contact's card."""
        return redirect(url_for("contact.index_view"))

    def _contact(self, contact_id: int) -> Contact:
        contact = access.get_visible_contact(current_user, contact_id)
        if contact is None:
            abort(404)
        return contact

    def _sent(self, contact_id: int, message: str, tab: str = "interactions"):
        flash(message, "success")
        return redirect(url_for("contact.details_view", id=contact_id, tab=tab))

    @expose("/<int:contact_id>/email/", methods=("GET", "POST"))
    def email(self, contact_id: int):
        """Compose an email to one of the contact's addresses (?to= preselects it)."""
        contact = self._contact(contact_id)
        addresses = messages.email_addresses_of(contact)
        form = EmailForm()
        form.to.choices = [(address, address) for address in addresses]
        failure = None
        if request.method == "GET":
            wanted = (request.args.get("to") or "").strip().lower()
            if wanted in addresses:
                form.to.data = wanted
        elif not form.validate_on_submit():
            failure = FORM_EXPIRED
        else:
            with commit_or_explain(quiet=True, conflict_message=CHANGED_MEANWHILE) as outcome:
                interaction = messages.email_contact(
                    current_user, contact, form.to.data, form.subject.data, form.body.data
                )
            if outcome:
                return self._sent(
                    contact_id,
                    f"Email sent to {interaction.address}; it is listed under Emails and "
                    "Interactions.",
                    tab="emails",
                )
            failure = put_errors(form, outcome.errors) if outcome.errors else outcome.message
        return self.render(
            "admin/contact_email.html",
            contact=contact,
            form=form,
            refusal=messages.email_refusal(contact),
            failure=failure,
            backend_note=_console_note("email"),
            reply_to=getattr(current_user, "email", None),
            card_url=url_for("contact.details_view", id=contact_id),
        )

    @expose("/<int:contact_id>/sms/", methods=("GET", "POST"))
    def sms(self, contact_id: int):
        """Compose an SMS to one of the contact's phones (?phone_id= preselects it)."""
        contact = self._contact(contact_id)
        phones = messages.textable_phones_of(contact)
        form = SmsForm()
        form.phone_id.choices = [(str(phone.id), _phone_choice(phone)) for phone in phones]
        failure = None
        if request.method == "GET":
            wanted = (request.args.get("phone_id") or "").strip()
            if any(str(phone.id) == wanted for phone in phones):
                form.phone_id.data = wanted
        elif not form.validate_on_submit():
            failure = FORM_EXPIRED
        else:
            with commit_or_explain(quiet=True, conflict_message=CHANGED_MEANWHILE) as outcome:
                interaction = messages.text_contact(
                    current_user, contact, form.phone_id.data, form.body.data
                )
            if outcome:
                return self._sent(
                    contact_id,
                    f"SMS sent to {interaction.address}; it is listed under Interactions.",
                )
            failure = put_errors(form, outcome.errors) if outcome.errors else outcome.message
        chosen = next((p for p in phones if str(p.id) == str(form.phone_id.data)), None)
        return self.render(
            "admin/contact_sms.html",
            contact=contact,
            form=form,
            refusal=messages.sms_refusal(contact),
            sms_configured=sms.sends_sms(),
            setup_hint=sms.SETUP_HINT,
            failure=failure,
            backend_note=_console_note("sms"),
            count=sms.count_segments(messages.typed_text(form.body.data)),
            max_characters=sms.MAX_SMS_CHARACTERS,
            gsm_basic=sms.GSM_BASIC_TEXT,
            gsm_extended=sms.GSM_EXTENDED_TEXT,
            call_phone=None if contact.do_not_call else (chosen or (phones[0] if phones else None)),
            card_url=url_for("contact.details_view", id=contact_id),
        )
