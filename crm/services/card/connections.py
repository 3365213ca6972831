"""Connections between contacts (as in SECUTIX): typed links shown on both contacts' pages, each
end with its own name for the other ("Assistant: Bob" on Anna's page, "Assistant to: Anna"
on Bob's), and the manager relation of the contact form seen from both sides."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import aliased, selectinload

from crm.auth.permissions import Actor, can
from crm.errors import NotFound, PermissionDenied, ValidationFailed
from crm.extensions import db
from crm.models import Connection, ConnectionType, Contact
from crm.services.platform import audit
from crm.services.platform import validation as v
from crm.services.platform.access import contact_visibility, get_visible_contact, record_id


@dataclass
class Link:
    """One line of a contact's Connections tab."""

    label: str  # "Assistant", "Assistant to", "Manager", "Manages"
    other: Contact
    connection: Connection | None  # None for the manager relation (edited on the form)
    note: str | None = None


def active_types() -> list[ConnectionType]:
    return list(
        db.session.scalars(
            select(ConnectionType)
            .where(ConnectionType.active.is_(True))
            .order_by(ConnectionType.position, ConnectionType.name)
        )
    )


def connections_of(actor: Actor, contact: Contact) -> list[Link]:
    """The contact's connections whose other end the actor may see: its manager and the
    people it manages first, then the typed links from either end, by label and name."""
    seen = contact_visibility(actor)
    links: list[Link] = []
    if contact.manager_id:
        manager = get_visible_contact(actor, contact.manager_id)
        if manager is not None:
            links.append(Link("Manager", manager, None))
    reports = db.session.scalars(
        select(Contact).where(Contact.manager_id == contact.id, seen)
        .order_by(Contact.last_name, Contact.first_name).limit(200)
    )  # fmt: skip
    links.extend(Link("Manages", person, None) for person in reports)
    other = aliased(Contact)
    outgoing = db.session.execute(
        select(Connection, other)
        .join(other, other.id == Connection.other_id)
        .where(Connection.contact_id == contact.id, contact_visibility_of(actor, other))
        .options(selectinload(Connection.type))
    ).all()
    incoming = db.session.execute(
        select(Connection, other)
        .join(other, other.id == Connection.contact_id)
        .where(Connection.other_id == contact.id, contact_visibility_of(actor, other))
        .options(selectinload(Connection.type))
    ).all()
    typed = [Link(c.type.name, person, c, c.note) for c, person in outgoing]
    typed += [Link(c.type.inverse_name, person, c, c.note) for c, person in incoming]
    typed.sort(key=lambda link: (link.label.lower(), link.other.last_name, link.other.id))
    return links + typed


def contact_visibility_of(actor: Actor, alias):
    """contact_visibility for an aliased Contact (the other end of a connection)."""
    return select(Contact.id).where(contact_visibility(actor), Contact.id == alias.id).exists()


def connect(
    actor: Actor, contact: Contact, other_id: object, type_id: object, note: str | None = None
) -> Connection:
    """Link `contact` to another contact the actor sees, with a type of the lookup list."""
    if not can(actor, "connection.edit"):
        raise PermissionDenied("You may not connect contacts.")
    errors = v.FieldErrors()
    other = get_visible_contact(actor, other_id)
    if other is None:
        errors.add("other_id", "Choose a contact you can see.")
    elif other.id == contact.id:
        errors.add("other_id", "A contact cannot be connected to itself.")
    kind = db.session.get(ConnectionType, record_id(type_id) or 0)
    if kind is None or not kind.active:
        errors.add("type_id", "Choose a type of connection.")
    text = v.clean_text(note)
    if text and len(text) > 200:
        errors.add("note", "At most 200 characters.")
    errors.raise_any()
    same = select(Connection.id).where(
        Connection.type_id == kind.id,
        ((Connection.contact_id == contact.id) & (Connection.other_id == other.id))
        | ((Connection.contact_id == other.id) & (Connection.other_id == contact.id)
           & (ConnectionType.name == ConnectionType.inverse_name)),
    ).join(ConnectionType, ConnectionType.id == Connection.type_id)  # fmt: skip
    if db.session.scalar(same) is not None:
        raise ValidationFailed({"other_id": [f"{other} is already linked as {kind.name}."]})
    audit.note_actor(db.session, actor)
    connection = Connection(contact_id=contact.id, other_id=other.id, type_id=kind.id,
                            note=text, created_by_id=actor.id)  # fmt: skip
    db.session.add(connection)
    db.session.flush()
    return connection


def disconnect(actor: Actor, connection_id: object) -> None:
    """Remove a connection the actor sees both ends of."""
    if not can(actor, "connection.edit"):
        raise PermissionDenied("You may not change connections.")
    connection = db.session.get(Connection, record_id(connection_id) or 0)
    if (
        connection is None
        or get_visible_contact(actor, connection.contact_id) is None
        or get_visible_contact(actor, connection.other_id) is None
    ):
        raise NotFound("No such connection.")
    audit.note_actor(db.session, actor)
    db.session.delete(connection)
    db.session.flush()
