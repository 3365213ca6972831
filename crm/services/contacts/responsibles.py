"""Responsible users (Webasyst's Contacts > Responsibles): who is in charge of how many contacts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, or_, select

from crm.auth.permissions import Actor, can
from crm.errors import PermissionDenied
from crm.extensions import db
from crm.models import Contact, User
from crm.services.platform.access import contact_visibility, sees_every_live_contact


@dataclass(frozen=True)
class ResponsibleCount:
    """A responsible user (None: contacts with nobody responsible) and their contacts."""

    user_id: int | None
    name: str
    email: str
    active: bool
    contacts: int


def responsible_counts(actor: Actor) -> list[ResponsibleCount]:
    """Active users by name, each with how many contacts `actor` may see they are
    responsible for; inactive users who still are responsible for some, marked so (their
    contacts need a new one); last, the contacts nobody is responsible for.

    The counts are one grouped query through the visibility gate, not one per user.
    """
    if not can(actor, "contact.view"):
        raise PermissionDenied("You do not have permission to see contacts.")
    if sees_every_live_contact(actor):
        # All contacts less the trash's: both from indexes (1M contacts: 60 ms, not 2 s).
        counts = Counter(dict(_counts()))
        trashed = select(Contact.id).where(Contact.deleted_at.is_not(None))
        counts.subtract(dict(_counts(Contact.id.in_(trashed))))  # the trash, by its index
    else:
        counts = Counter(dict(_counts(contact_visibility(actor))))
    counts = {user_id: n for user_id, n in counts.items() if n > 0}
    in_charge = [user_id for user_id in counts if user_id is not None]
    users = db.session.execute(
        select(User.id, User.full_name, User.email, User.active)
        .where(or_(User.active.is_(True), User.id.in_(in_charge)))
        .order_by(func.lower(func.coalesce(func.nullif(User.full_name, ""), User.email)), User.id)
    ).all()
    rows = [
        ResponsibleCount(user_id, full_name or email, email, active, counts.get(user_id, 0))
        for user_id, full_name, email, active in users
    ]
    rows.append(ResponsibleCount(None, "Nobody responsible", "", True, counts.get(None, 0)))
    return rows


def _counts(where: ColumnElement[bool] | None = None) -> list[tuple[int | None, int]]:
    """(responsible user id, contacts) over all contacts, or those matching `where`."""
    query = select(Contact.responsible_id, func.count()).group_by(Contact.responsible_id)
    if where is not None:
        query = query.where(where)
    return [tuple(row) for row in db.session.execute(query)]
