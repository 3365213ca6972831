"""The "Selected contacts" basket: a per-user set of contacts, kept on the server, that
list pages add to and remove from and that bulk actions can target."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Select, delete, exists, func, literal, select

from crm.auth.permissions import Actor
from crm.extensions import db
from crm.models import Contact, SelectedContact
from crm.models.base import utcnow
from crm.services.platform.access import contact_visibility
from crm.services.platform.counted_insert import insert_counted

MAX_SELECTION = 1_000_000


def _ids(values: Iterable[object]) -> list[int]:
    found = []
    for value in values:
        try:
            found.append(int(str(value)))
        except ValueError:
            continue
    return found


def count(user: Actor) -> int:
    """How many of the user's selected contacts they can still see."""
    if not getattr(user, "is_authenticated", False):
        return 0
    return (
        db.session.scalar(
            select(func.count())
            .select_from(SelectedContact)
            .join(Contact, Contact.id == SelectedContact.contact_id)
            .where(SelectedContact.user_id == user.id, contact_visibility(user))
        )
        or 0
    )


def add(user: Actor, contact_ids: Iterable[object] | Select) -> int:
    """Add contacts (ids, or a select of ids) the user may see; returns how many were new."""
    chosen = contact_ids if isinstance(contact_ids, Select) else _ids(contact_ids)
    source = select(literal(user.id), Contact.id, literal(utcnow())).where(
        Contact.id.in_(chosen),
        contact_visibility(user),
        ~exists().where(
            SelectedContact.user_id == user.id, SelectedContact.contact_id == Contact.id
        ),
    )
    return insert_counted(SelectedContact, ["user_id", "contact_id", "added_at"], source)


def remove(user: Actor, contact_ids: Iterable[object]) -> int:
    result = db.session.execute(
        delete(SelectedContact).where(
            SelectedContact.user_id == user.id,
            SelectedContact.contact_id.in_(_ids(contact_ids)),
        )
    )
    return result.rowcount or 0


def clear(user: Actor) -> int:
    result = db.session.execute(delete(SelectedContact).where(SelectedContact.user_id == user.id))
    return result.rowcount or 0


def selected_ids(user: Actor) -> Select:
    """A select of the ids in the user's basket that they may see."""
    return (
        select(SelectedContact.contact_id)
        .join(Contact, Contact.id == SelectedContact.contact_id)
        .where(SelectedContact.user_id == user.id, contact_visibility(user))
    )
