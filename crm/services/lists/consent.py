"""Email marketing consent: who may receive marketing mail, and the signed unsubscribe link
that turns consent off without signing in (recorded in the contact's history)."""

from __future__ import annotations

from types import SimpleNamespace

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import ColumnElement, select

from crm.errors import NotFound
from crm.extensions import db
from crm.models import Contact, MarketingListMember
from crm.services.platform import audit
from crm.services.platform.access import contact_visibility

_SALT = "crm-unsubscribe"


def refuses_marketing() -> ColumnElement[bool]:
    """Contacts that must get no marketing mail: no consent, or do-not-email."""
    return (Contact.do_not_email.is_(True)) | (Contact.email_marketing.is_(False))


def may_receive_marketing() -> ColumnElement[bool]:
    """Live contacts with an email, consent and no do-not-email: the only ones marketing
    mail may go to."""
    return (
        Contact.deleted_at.is_(None)
        & Contact.email.is_not(None)
        & Contact.email_marketing.is_(True)
        & Contact.do_not_email.is_(False)
    )


def marketing_recipients(actor, list_id: int):
    """The members of a marketing list mail may go to (those the actor sees), by name."""
    return db.session.scalars(
        select(Contact)
        .join(MarketingListMember, MarketingListMember.contact_id == Contact.id)
        .where(
            MarketingListMember.list_id == list_id,
            contact_visibility(actor),
            may_receive_marketing(),
        )
        .order_by(Contact.last_name, Contact.first_name, Contact.id)
        .execution_options(yield_per=1000)
    )


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def unsubscribe_token(contact: Contact) -> str:
    """The signed token of the contact's unsubscribe link (it does not expire: mails are
    read long after they are sent)."""
    return _serializer().dumps(contact.id)


def unsubscribe_link(contact: Contact) -> str:
    from crm.services.contacts.logins import external_url

    return external_url("public.unsubscribe", token=unsubscribe_token(contact))


def one_click_link(contact: Contact) -> str:
    """The RFC 8058 one-click URL of the contact's unsubscribe (the List-Unsubscribe header)."""
    from crm.services.contacts.logins import external_url

    return external_url("public.one_click", token=unsubscribe_token(contact))


def contact_for_token(token: str) -> Contact:
    """The live contact of an unsubscribe link; NotFound for an altered link."""
    try:
        contact_id = _serializer().loads(token)
    except BadSignature:
        raise NotFound(
            "This unsubscribe link is not valid: check that it was copied whole."
        ) from None
    contact = db.session.get(Contact, contact_id) if isinstance(contact_id, int) else None
    if contact is None or contact.deleted_at is not None:
        raise NotFound("This address is not on our lists any more.")
    return contact


def unsubscribe(token: str) -> tuple[Contact, bool]:
    """Turn the contact's marketing consent off; (the contact, whether it was on)."""
    contact = contact_for_token(token)
    if not contact.email_marketing:
        return contact, False
    # No one is signed in: the history names the link as who made the change.
    with audit.acting_as(SimpleNamespace(id=None, email="unsubscribe link")):
        contact.email_marketing = False
        db.session.flush()
        audit.record_event(
            db.session, (None, "unsubscribe link"), "unsubscribe", "contact",
            f"{contact} unsubscribed from marketing email (their link)",
            {"email_marketing": [True, False]}, entity_id=contact.id, contact_id=contact.id,
        )  # fmt: skip
    return contact, True


def masked_email(email: str | None) -> str:
    """a***@example.com: enough for the person to recognise their address."""
    if not email or "@" not in email:
        return ""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"
