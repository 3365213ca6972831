"""Interactions (as in SECUTIX): calls, emails, letters, meetings and documents with a contact,
registered by hand or recorded by the app when it writes to the contact, each with its
medium, direction (in/out), status (open/closed/archived) and operator."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import selectinload

from crm.auth.permissions import Actor, can
from crm.errors import NotFound, PermissionDenied
from crm.extensions import db
from crm.models import Contact, Direction, Interaction, InteractionStatus, Medium, User
from crm.models.base import utcnow
from crm.services.platform import audit
from crm.services.platform import validation as v
from crm.services.platform.access import contact_visibility, get_visible_contact, one_of, record_id

MAX_SUBJECT = 200


def visible_interactions(actor: Actor) -> Select[tuple[Interaction]]:
    """The interactions of the contacts `actor` may see (the list across contacts)."""
    return (
        select(Interaction)
        .join(Contact, Contact.id == Interaction.contact_id)
        .where(contact_visibility(actor))
    )


def get_visible_interaction(actor: Actor, interaction_id: object) -> Interaction | None:
    return one_of(visible_interactions(actor), Interaction, interaction_id)


def interactions_of_contact(actor: Actor, contact_id: int, limit: int = 100) -> list[Interaction]:
    """The contact's interactions, the newest first."""
    return list(
        db.session.scalars(
            visible_interactions(actor)
            .where(Interaction.contact_id == contact_id)
            .order_by(Interaction.occurred_at.desc(), Interaction.id.desc())
            .limit(limit)
            .options(selectinload(Interaction.operator))
        )
    )


def _enum(errors: v.FieldErrors, name: str, enum_cls: Any, value: Any, default: Any) -> Any:
    if value in (None, ""):
        return default
    try:
        return enum_cls(getattr(value, "value", value))
    except ValueError:
        errors.add(name, f"Choose one of: {', '.join(m.label for m in enum_cls)}.")
        return None


def parse_when(value: Any) -> datetime | None:
    """A datetime from a form (`YYYY-MM-DDTHH:MM`, a date alone, or a datetime); naive
    values are taken as UTC. Raises FieldError."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise v.FieldError("Give a date and time, like 2026-11-23 14:30.") from None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def check_interaction(actor: Actor, interaction: Interaction, errors: v.FieldErrors) -> None:
    """The rules for a new or edited interaction (in the session or not)."""
    if not can(actor, "interaction.edit"):
        raise PermissionDenied("You may not register interactions.")
    if get_visible_contact(actor, interaction.contact_id) is None:
        errors.add("contact", "Choose a contact you can see.")
    subject = v.clean_text(interaction.subject)
    if not subject:
        errors.add("subject", "Say what it was about.")
    elif len(subject) > MAX_SUBJECT:
        errors.add("subject", f"At most {MAX_SUBJECT} characters.")
    interaction.subject = subject or ""
    interaction.body = v.clean_free_text(interaction.body)
    if interaction.operator_id is not None:
        operator = db.session.get(User, interaction.operator_id)
        if operator is None or not operator.active:
            errors.add("operator", "Choose an active user.")
    if interaction.occurred_at is None:
        interaction.occurred_at = utcnow()
    errors.raise_any()


def save_interaction(actor: Actor, interaction: Interaction) -> Interaction:
    """Check and save an interaction built or edited by a form; ValidationFailed."""
    with db.session.no_autoflush:
        check_interaction(actor, interaction, v.FieldErrors())
    if interaction.created_by_id is None:
        interaction.created_by_id = actor.id
    audit.note_actor(db.session, actor)
    db.session.add(interaction)
    db.session.flush()
    return interaction


def register(actor: Actor, contact: Contact, data: dict[str, Any]) -> Interaction:
    """An interaction from the card's quick form: medium, direction, status, subject, body,
    when (now when empty) and operator (the actor when empty)."""
    errors = v.FieldErrors()
    interaction = Interaction(
        contact_id=contact.id,
        medium=_enum(errors, "medium", Medium, data.get("medium"), None),
        direction=_enum(errors, "direction", Direction, data.get("direction"), Direction.OUT),
        status=_enum(
            errors, "status", InteractionStatus, data.get("status"), InteractionStatus.OPEN
        ),  # fmt: skip
        subject=data.get("subject"),
        body=data.get("body"),
        occurred_at=errors.check("occurred_at", parse_when, data.get("occurred_at")),
        operator_id=record_id(data.get("operator_id")) or actor.id,
    )
    if interaction.medium is None and "medium" not in errors.found:
        errors.add("medium", "Choose how: call, email, meeting, letter, ...")
    with db.session.no_autoflush:
        check_interaction(actor, interaction, errors)
    return save_interaction(actor, interaction)


def set_status(
    actor: Actor, interaction_id: object, status: Any, contact_id: int | None = None
) -> Interaction:
    """Close, archive or reopen an interaction (of contact `contact_id`, when given)."""
    if not can(actor, "interaction.edit"):
        raise PermissionDenied("You may not change interactions.")
    interaction = get_visible_interaction(actor, interaction_id)
    if interaction is None or contact_id not in (None, interaction.contact_id):
        raise NotFound("No such interaction.")
    errors = v.FieldErrors()
    value = _enum(errors, "status", InteractionStatus, status, None)
    errors.raise_any()
    audit.note_actor(db.session, actor)
    interaction.status = value
    db.session.flush()
    return interaction


def record_outgoing(
    actor: Actor, contact: Contact, medium: Medium, address: str, subject: str, body: str
) -> Interaction:
    """What the app wrote to the contact (an email, an SMS), as a closed outgoing
    interaction by the actor."""
    interaction = Interaction(
        contact_id=contact.id, medium=medium, direction=Direction.OUT,
        status=InteractionStatus.CLOSED, subject=subject[:MAX_SUBJECT], body=body,
        address=address, operator_id=actor.id, created_by_id=actor.id, occurred_at=utcnow(),
    )  # fmt: skip
    audit.note_actor(db.session, actor)
    db.session.add(interaction)
    db.session.flush()
    return interaction


def delete_interaction(actor: Actor, interaction: Interaction) -> None:
    """Delete an interaction registered by mistake (it stays in the contact's history)."""
    if not can(actor, "interaction.edit"):
        raise PermissionDenied("You may not delete interactions.")
    if get_visible_interaction(actor, interaction.id) is None:
        raise NotFound("No such interaction.")
    audit.note_actor(db.session, actor)
    db.session.delete(interaction)
    db.session.flush()
