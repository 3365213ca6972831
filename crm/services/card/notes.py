"""Notes on a contact (24SevenOffice's Notes tab): everyone who sees the contact reads them,
except the private ones, which only their author sees anywhere (the card, the feed, history, the
API). A note is changed or deleted by its author only."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from crm.auth.permissions import Actor, can
from crm.errors import NotFound, PermissionDenied, StaleEditError, ValidationFailed
from crm.extensions import db
from crm.models import Contact, Note
from crm.services.platform import audit
from crm.services.platform import validation as v
from crm.services.platform.access import contact_visibility, record_id

MAX_NOTE = 20_000


def note_visibility(actor: Actor):
    """The notes `actor` may read: not private, or their own."""
    return or_(Note.private.is_(False), Note.author_id == getattr(actor, "id", None))


def notes_of_contact(actor: Actor, contact_id: int) -> list[Note]:
    """The contact's notes the actor may read, newest first."""
    return list(
        db.session.scalars(
            select(Note)
            .join(Contact, Contact.id == Note.contact_id)
            .where(Note.contact_id == contact_id, contact_visibility(actor), note_visibility(actor))
            .order_by(Note.created_at.desc(), Note.id.desc())
            .options(selectinload(Note.author))
        )
    )


def _clean_body(body: str | None) -> str:
    text = v.clean_free_text(body)
    if not text:
        raise ValidationFailed({"body": ["Write something: the note is empty."]})
    if len(text) > MAX_NOTE:
        raise ValidationFailed({"body": [f"A note holds at most {MAX_NOTE:,} characters."]})
    return text


def add_note(actor: Actor, contact: Contact, body: str | None, private: bool = False) -> Note:
    if not can(actor, "note.write"):
        raise PermissionDenied("You may not write notes.")
    note = Note(contact_id=contact.id, author_id=actor.id, body=_clean_body(body),
                private=bool(private))  # fmt: skip
    audit.note_actor(db.session, actor)
    db.session.add(note)
    db.session.flush()
    return note


def may_change(actor: Actor, note: Note) -> bool:
    """Whether `actor` may edit or delete `note`: their own, with the right to write notes."""
    return note.author_id == getattr(actor, "id", None) and can(actor, "note.write")


def get_own_note(actor: Actor, note_id: object) -> Note:
    """A note the actor may change: their own, on a contact they see. NotFound when they
    cannot read it; PermissionDenied when it is someone else's."""
    pk = record_id(note_id)
    note = None
    if pk is not None:
        note = db.session.scalar(
            select(Note)
            .join(Contact, Contact.id == Note.contact_id)
            .where(Note.id == pk, contact_visibility(actor), note_visibility(actor))
        )
    if note is None:
        raise NotFound("No such note.")
    if not may_change(actor, note):
        raise PermissionDenied("Only its author may change a note.")
    return note


def update_note(
    actor: Actor, note_id: object, body: str | None, private: bool, version: object = None
) -> Note:
    note = get_own_note(actor, note_id)
    if version not in (None, "") and str(version) != str(note.version):
        raise StaleEditError("The note was changed since you opened it: reload and try again.")
    audit.note_actor(db.session, actor)
    note.body = _clean_body(body)
    note.private = bool(private)
    db.session.flush()
    return note


def delete_note(actor: Actor, note_id: object) -> int:
    """Delete the actor's own note; returns its contact's id."""
    note = get_own_note(actor, note_id)
    audit.note_actor(db.session, actor)
    contact_id = note.contact_id
    db.session.delete(note)
    db.session.flush()
    return contact_id
