"""Set as consumer (24SevenOffice): a contact gets the next customer number, so that orders and
invoices can be made for it, and keeps its customer settings."""

from __future__ import annotations

from crm.auth.permissions import Actor, can
from crm.errors import DomainError, PermissionDenied
from crm.extensions import db
from crm.models import Contact
from crm.services.platform import audit, counters


def set_as_consumer(actor: Actor, contact: Contact) -> int:
    """Give the contact the next customer number (once: a number is never changed or given
    twice); the number."""
    if not can(actor, "contact.set_consumer"):
        raise PermissionDenied("You may not set contacts as consumers.")
    if contact.customer_number is not None:
        raise DomainError(
            f"{contact} is a consumer already: customer number {contact.customer_number}."
        )
    audit.note_actor(db.session, actor)
    contact.customer_number = counters.next_value("customer_number")
    db.session.flush()
    return contact.customer_number
