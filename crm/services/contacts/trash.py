"""The contacts' trash: deleting moves a contact there (out of every list, search and count),
restoring takes it back, and a crm_admin may purge it for good."""

from __future__ import annotations

from sqlalchemy import select

from crm.auth.permissions import Actor, can
from crm.errors import PermissionDenied
from crm.extensions import db
from crm.models import Contact
from crm.models.base import utcnow
from crm.services.platform import audit


def delete_contact(actor: Actor, contact: Contact) -> None:
    """Move a contact to the trash: it leaves every list, search and count, and can be
    restored (restore_contact) or, by a crm_admin, purged for good (purge_contact)."""
    if not can(actor, "contact.delete"):
        raise PermissionDenied("You may not delete contacts.")
    if contact.deleted_at is not None:
        return
    audit.note_actor(db.session, actor)
    contact.deleted_at = utcnow()
    contact.deleted_by_id = getattr(actor, "id", None)
    db.session.flush()


def restore_contact(actor: Actor, contact: Contact) -> None:
    """Take a contact out of the trash."""
    if not can(actor, "contact.restore"):
        raise PermissionDenied("You may not restore contacts.")
    audit.note_actor(db.session, actor)
    contact.deleted_at = None
    contact.deleted_by_id = None
    db.session.flush()


def purge_contact(actor: Actor, contact: Contact) -> None:
    """Delete a contact for good with its phones, addresses and links, and its B2C hidden
    account. Its history is kept."""
    if not can(actor, "contact.purge"):
        raise PermissionDenied("Only administrators may purge contacts.")
    audit.note_actor(db.session, actor)
    account = contact.account
    db.session.delete(contact)
    db.session.flush()
    if account is not None and account.is_hidden:
        remaining = db.session.scalar(
            select(db.func.count()).select_from(Contact).where(Contact.account_id == account.id)
        )
        if not remaining:
            db.session.delete(account)
            db.session.flush()
