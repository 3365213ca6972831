"""Leads: saving them, and converting one to a customer contact (as in Sellution): the contact (and
for a B2B lead its account, matched by name) gets everything the lead had."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from crm.auth.permissions import Actor, can
from crm.errors import DomainError, PermissionDenied, StaleEditError, ValidationFailed
from crm.extensions import db
from crm.models import Contact, ContactKind, Lead, LeadStatus
from crm.models.base import utcnow
from crm.services.contacts.saving import create_contact
from crm.services.platform import audit
from crm.services.platform import validation as v
from crm.services.platform.access import one_of


def save_lead(actor: Actor, lead: Lead, *, is_new: bool) -> None:
    """Check a new or edited lead in the session; ValidationFailed with the fields' errors."""
    if not can(actor, "lead.edit"):
        raise PermissionDenied("You may not change leads.")
    audit.note_actor(db.session, actor)
    errors = v.FieldErrors()

    def check(field: str, clean, *args):
        cleaned = errors.check(field, clean, *args)
        return getattr(lead, field) if field in errors.found else cleaned

    for field, label in (("first_name", "First name"), ("last_name", "Last name")):
        setattr(lead, field, check(field, v.clean_required_name, getattr(lead, field), label))
    for field, limit in (("title", 40), ("company", 200), ("job_title", 150), ("source", 100),
                         ("city", 100), ("phone", 40)):  # fmt: skip
        setattr(lead, field, check(field, v.clean_limited, getattr(lead, field), limit))
    lead.email = check("email", v.clean_email, lead.email)
    lead.website = check("website", v.clean_url, lead.website)
    lead.country = check("country", v.clean_country, lead.country)
    lead.notes = v.clean_text(lead.notes)
    lead.kind = lead.kind or (ContactKind.B2B if lead.company else ContactKind.B2C)
    lead.status = lead.status or LeadStatus.NEW
    if lead.converted_contact_id is not None:
        lead.status = LeadStatus.CONVERTED  # its status is the conversion's, not an edit's
    if lead.kind == ContactKind.B2B and not lead.company:
        errors.add("company", "A B2B lead needs its company (or choose B2C).")
    if lead.status == LeadStatus.CONVERTED and lead.converted_contact_id is None:
        errors.add("status", "A lead becomes converted by converting it.")
    if is_new and lead.owner_id is None and lead.owner is None:
        lead.owner_id = getattr(actor, "id", None)
    errors.raise_any()
    db.session.add(lead)
    db.session.flush()


def delete_lead(actor: Actor, lead: Lead) -> None:
    """Delete a lead (its converted contact, if any, stays)."""
    if not can(actor, "lead.delete"):
        raise PermissionDenied("You may not delete leads.")
    audit.note_actor(db.session, actor)
    db.session.delete(lead)
    db.session.flush()


def conversion_refusal(lead: Lead) -> str | None:
    """Why this lead cannot be converted (None: it can)."""
    if lead.status == LeadStatus.CONVERTED or lead.converted_contact_id is not None:
        when = f" on {lead.converted_at:%Y-%m-%d}" if lead.converted_at else ""
        return f"This lead was converted{when} already: open its contact instead."
    if lead.status == LeadStatus.DISQUALIFIED:
        return "This lead is disqualified: set it back to working or qualified to convert it."
    return None


def convert_lead(actor: Actor, lead: Lead) -> Contact:
    """Make a customer contact of the lead, in the session: its names, email, phone (checked
    as the contact form checks one), website, job title, city and country, notes and owner;
    a B2B lead's company becomes its account (an existing account with that name, else a new
    one). The lead is marked converted and links to the contact; converting twice is refused,
    also when two people convert the same lead at once."""
    if not can(actor, "lead.convert"):
        raise PermissionDenied("You may not convert leads.")
    refusal = conversion_refusal(lead)
    if refusal:
        raise DomainError(refusal)
    audit.note_actor(db.session, actor)
    data: dict[str, Any] = {
        "kind": lead.kind,
        "title": lead.title,
        "first_name": lead.first_name,
        "last_name": lead.last_name,
        "job_title": lead.job_title,
        "email": lead.email,
        "website": lead.website,
        "owner_id": _contact_owner(actor, lead),
        "notes": _notes(lead),
    }
    if lead.kind == ContactKind.B2B:
        data["account"] = lead.company
    if lead.phone:  # read in the lead's country when it has no country code of its own
        data["phones"] = [{"type": "Work" if lead.kind == ContactKind.B2B else "Mobile",
                           "number": lead.phone, "country_code": lead.country}]  # fmt: skip
    if lead.city:  # a country alone is no address
        data["addresses"] = [{"type": "Main", "city": lead.city, "country": lead.country}]
    try:
        contact = create_contact(actor, data)
    except ValidationFailed as exc:
        raise ValidationFailed(
            {_lead_field(field): messages for field, messages in exc.errors.items()}
        ) from None
    lead.status = LeadStatus.CONVERTED
    lead.converted_contact = contact
    lead.converted_at = utcnow()
    lead.converted_by_id = getattr(actor, "id", None)
    try:
        db.session.flush()
    except StaleDataError:
        raise StaleEditError(
            "Someone converted or changed this lead meanwhile: reload it."
        ) from None
    audit.record_event(
        db.session, actor, "convert", "lead",
        f"Converted lead {lead} to contact {contact}",
        {"lead_id": lead.id, "contact_id": contact.id},
        entity_id=lead.id, contact_id=contact.id,
    )  # fmt: skip
    return contact


def _contact_owner(actor: Actor, lead: Lead) -> int | None:
    """The lead's owner owns the contact when the actor may give contacts to others (or is
    that owner) and the owner is still active; else the actor does."""
    actor_id = getattr(actor, "id", None)
    owner = lead.owner
    if owner is None or not owner.active:
        return actor_id
    if owner.id == actor_id or can(actor, "contact.transfer"):
        return owner.id
    return actor_id


def _notes(lead: Lead) -> str | None:
    parts = [lead.notes]
    if lead.source:
        parts.append(f"Lead source: {lead.source}")
    text = "\n\n".join(p for p in parts if p)
    return text or None


def _lead_field(field: str) -> str:
    """The lead's field a contact form error is about (phones-0-number -> phone)."""
    if field.startswith("phones-"):
        return "phone"
    if field.startswith("addresses-"):
        return "country" if field.endswith("country") else "city"
    return {"account": "company"}.get(field, field)


def get_lead(actor: Actor, lead_id: object) -> Lead | None:
    if not can(actor, "lead.view"):
        return None
    return one_of(select(Lead), Lead, lead_id)
