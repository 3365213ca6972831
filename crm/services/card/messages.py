"""Writing to a contact from its page (as in Webasyst CRM): an email through
crm.services.platform.mail or an SMS through crm.services.platform.sms, each kept as an
outgoing, closed interaction; an email is also kept in the contact's Emails tab
(crm.services.marketing.email_log).

The message is sent first and the interaction recorded (flushed) only once the mail server or
SMS provider took it: a failed send leaves nothing behind but the error. Do-not-email and
do-not-call (which covers SMS too) are refused with the reason."""

from __future__ import annotations

from typing import Any

from crm.auth.permissions import Actor, can
from crm.errors import DomainError, NotFound, PermissionDenied
from crm.extensions import db
from crm.models import Contact, EmailKind, Interaction, Medium, Phone
from crm.services.card import interactions
from crm.services.marketing import bounces, email_log
from crm.services.platform import access, audit, mail, sms
from crm.services.platform import validation as v

MAX_EMAIL_BODY = 100_000  # characters; a message typed on the page, not a newsletter
SMS_SUBJECT_LENGTH = 80  # the interaction's subject: "SMS: " and the text's beginning

DO_NOT_EMAIL = "Do not email: this contact asked not to receive email. Nothing can be sent."
DO_NOT_CALL = "Do not call: this contact asked not to be called or texted. No SMS can be sent."
NO_EMAIL_ADDRESS = "This contact has no email address. Add one on the contact's edit page."
NO_SMS_NUMBER = "This contact has no phone number. Add one on the contact's edit page."
MAIL_OFF = (
    "Email is switched off on this server (CRM_MAIL_BACKEND=none). To send email, set "
    "CRM_MAIL_BACKEND=smtp and CRM_SMTP_HOST (and CRM_SMTP_PORT, CRM_SMTP_USERNAME, "
    "CRM_SMTP_PASSWORD as the mail server needs) in the server's environment, and restart it."
)
SMS_OFF = f"SMS is not configured on this server. {sms.SETUP_HINT}"


def email_addresses_of(contact: Contact) -> list[str]:
    """The contact's own addresses, the main one first (the only ones it may be written at)."""
    found: list[str] = []
    for address in (contact.email, contact.email_secondary):
        if address and address.lower() not in found:
            found.append(address.lower())
    return found


def textable_phones_of(contact: Contact) -> list[Phone]:
    """The contact's phones with an international (E.164) form, which an SMS can go to."""
    return [phone for phone in contact.phones if phone.e164]


def mail_enabled() -> bool:
    from flask import current_app

    return current_app.config.get("CRM_MAIL_BACKEND", "console") != "none"


def email_refusal(contact: Contact) -> str | None:
    """Why no email can be written to `contact` now (None: it can)."""
    if contact.do_not_email:
        return DO_NOT_EMAIL
    if not mail_enabled():
        return MAIL_OFF
    if not email_addresses_of(contact):
        return NO_EMAIL_ADDRESS
    return None


def sms_refusal(contact: Contact) -> str | None:
    """Why no SMS can be written to `contact` now (None: it can)."""
    if contact.do_not_call:
        return DO_NOT_CALL
    if not sms.sends_sms():
        return SMS_OFF
    if not textable_phones_of(contact):
        return NO_SMS_NUMBER
    return None


def reach_of(user: Actor, contact: Contact) -> dict[str, Any]:
    """What the contact's card needs for its email and phone links: may the user write
    (`may_message`), why email or calls (and SMS) are blocked (None: they are not),
    whether SMS is set up on this server (`sms_enabled`), and which of its addresses bounce
    (`bouncing`: address -> the badge's words)."""
    email_blocked = DO_NOT_EMAIL if contact.do_not_email else None
    if email_blocked is None and not mail_enabled():
        email_blocked = MAIL_OFF
    return {
        "may_message": can(user, "contact.message"),
        "email_blocked_reason": email_blocked,
        "call_blocked_reason": DO_NOT_CALL if contact.do_not_call else None,
        "sms_enabled": sms.sends_sms(),
        "bouncing": bounces.bouncing_on_card(email_addresses_of(contact)),
    }


def _writable_contact(actor: Actor, contact: Contact) -> Contact:
    if not can(actor, "contact.message"):
        raise PermissionDenied("You may not write to contacts.")
    visible = access.get_visible_contact(actor, contact.id)
    if visible is None:
        raise NotFound("No such contact, or not one you may see.")
    return visible


def typed_text(body: str | None) -> str:
    """The text as it is sent and kept: a browser posts line breaks as CR LF; LF here."""
    return (body or "").replace("\r\n", "\n").replace("\r", "\n")


def email_contact(actor: Actor, contact: Contact, to: str | None, subject: str | None,
                  body: str | None) -> Interaction:  # fmt: skip
    """Email `contact` at `to` (one of its own addresses), Reply-To the actor; the sent mail
    becomes an outgoing email interaction and a row of the Emails tab. MailNotSent when the
    mail server fails (nothing recorded)."""
    contact = _writable_contact(actor, contact)
    if contact.do_not_email:
        raise DomainError(DO_NOT_EMAIL)
    if not mail_enabled():
        raise DomainError(MAIL_OFF)
    addresses = email_addresses_of(contact)
    if not addresses:
        raise DomainError(NO_EMAIL_ADDRESS)
    errors = v.FieldErrors()
    to = (to or "").strip().lower()
    if not to:
        errors.add("to", "Choose the address to write to.")
    elif to not in addresses:
        errors.add("to", f"{to} is not an address of this contact: choose one of theirs.")
    subject = errors.check("subject", v.clean_limited, subject, 200)
    if not subject and "subject" not in errors.found:
        errors.add("subject", "Write a subject.")
    elif subject and ("\n" in subject or "\r" in subject):
        errors.add("subject", "The subject must be a single line.")
    body = errors.check("body", v.clean_limited, typed_text(body), MAX_EMAIL_BODY)
    if not body and "body" not in errors.found:
        errors.add("body", "Write the message.")
    errors.raise_any()
    assert subject and body
    audit.note_actor(db.session, actor)
    message = mail.Mail(to=[to], subject=subject, body=body, reply_to=getattr(actor, "email", None))
    email_log.send_logged(EmailKind.ONE_OFF, [(contact, to)], message, actor)
    return interactions.record_outgoing(actor, contact, Medium.EMAIL, to, subject, body)


def _sms_subject(body: str) -> str:
    text = " ".join(body.split())
    limit = SMS_SUBJECT_LENGTH - len("SMS: ")
    return "SMS: " + (text if len(text) <= limit else text[: limit - 1] + "…")


def text_contact(actor: Actor, contact: Contact, phone_id: Any, body: str | None) -> Interaction:
    """Send an SMS to one of the contact's phones (by id) through the SMS provider; the sent
    text becomes an outgoing SMS interaction. SmsNotSent when the provider refuses it."""
    contact = _writable_contact(actor, contact)
    if contact.do_not_call:
        raise DomainError(DO_NOT_CALL)
    if not sms.sends_sms():
        raise DomainError(SMS_OFF)
    phones = textable_phones_of(contact)
    if not phones:
        raise DomainError(NO_SMS_NUMBER)
    errors = v.FieldErrors()
    phone = next((p for p in phones if str(p.id) == str(phone_id or "").strip()), None)
    if phone is None:
        errors.add("phone_id", "Choose one of this contact's phone numbers.")
    body = errors.check("body", v.clean_free_text, typed_text(body))
    if not body and "body" not in errors.found:
        errors.add("body", "Write the message.")
    elif body and len(body) > sms.MAX_SMS_CHARACTERS:
        errors.add(
            "body",
            f"Too long: {len(body)} characters, at most {sms.MAX_SMS_CHARACTERS} in one SMS.",
        )
    errors.raise_any()
    assert phone is not None and phone.e164 and body
    audit.note_actor(db.session, actor)
    receipt = sms.send(sms.Sms(to=phone.e164, body=body))
    if receipt.message_id:
        from flask import current_app

        current_app.logger.info("SMS to contact %s taken by %s as %s (%s)", contact.id,
                                receipt.backend, receipt.message_id, receipt.status)  # fmt: skip
    return interactions.record_outgoing(
        actor, contact, Medium.SMS, phone.e164, _sms_subject(body), body
    )
