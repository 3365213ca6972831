"""Appointments (24SevenOffice's Appointments tab): a time, a place, a subject and participants
(contacts, accounts, users); their meeting confirmation is crm.services.card.invitations'.

Who sees an appointment: its organiser (owner), the users taking part, and those who see one
of its contacts or accounts; participants they may not see are neither shown to them nor
dropped when they change it. The invitation keeps one UID for the appointment's life and
a SEQUENCE raised by each change of time, place, subject or status, so that calendars
replace the event they hold rather than add another one (RFC 5546)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, Select, case, false, or_, select

from crm.auth.permissions import Actor, can
from crm.errors import DomainError, NotFound, PermissionDenied, StaleEditError
from crm.extensions import db
from crm.models import (
    Account,
    Appointment,
    AppointmentStatus,
    Contact,
    User,
    appointment_accounts,
    appointment_contacts,
    appointment_users,
)
from crm.models.base import utcnow
from crm.services.platform import audit, local_time
from crm.services.platform import validation as v
from crm.services.platform.access import account_visibility, contact_visibility, one_of, record_id

MAX_SUBJECT = 200
MAX_PLACE = 200
MAX_LENGTH = timedelta(days=14)  # longer is a typing mistake (or a holiday, not a meeting)
MAX_PARTICIPANTS = 100
APPOINTMENT_FIELDS = (
    "subject", "place", "description", "starts_at", "ends_at",
    "contact_ids", "account_ids", "user_ids",
)  # fmt: skip


# ---- who sees what -----------------------------------------------------------------------
def appointment_visibility(actor: Actor | None) -> ColumnElement[bool]:
    """A WHERE clause selecting the appointments `actor` may see: theirs (as organiser or
    participant), and those with a contact or an account they see."""
    if not can(actor, "contact.view"):
        return false()
    contacts, accounts, users = appointment_contacts.c, appointment_accounts.c, appointment_users.c
    with_contact = (
        select(contacts.appointment_id)
        .join(Contact, Contact.id == contacts.contact_id)
        .where(
            contacts.appointment_id == Appointment.id, contact_visibility(actor, use_index=False)
        )
        .exists()
    )
    with_account = (
        select(accounts.appointment_id)
        .join(Account, Account.id == accounts.account_id)
        .where(accounts.appointment_id == Appointment.id, account_visibility(actor))
        .exists()
    )
    clauses = [with_contact, with_account]
    user_id = getattr(actor, "id", None)
    if user_id is not None:
        taking_part = (
            select(users.appointment_id)
            .where(users.appointment_id == Appointment.id, users.user_id == user_id)
            .exists()
        )
        clauses = [Appointment.owner_id == user_id, taking_part, *clauses]
    return or_(*clauses)


def visible_appointments(actor: Actor | None) -> Select[tuple[Appointment]]:
    return select(Appointment).where(appointment_visibility(actor))


def get_visible_appointment(actor: Actor | None, appointment_id: object) -> Appointment | None:
    """The appointment with this id if `actor` may see it, else None (callers answer 404)."""
    return one_of(visible_appointments(actor), Appointment, appointment_id)


def upcoming_first(now: datetime | None = None) -> list[ColumnElement]:
    """ORDER BY terms: the appointments not yet over, the soonest first, then the past ones,
    the latest first."""
    now = now or utcnow()
    is_past = Appointment.ends_at < now
    return [
        is_past,
        case((is_past, None), else_=Appointment.starts_at),
        Appointment.starts_at.desc(),
        Appointment.id.desc(),
    ]


def appointments_of_contact(actor: Actor, contact_id: int, limit: int = 100) -> list[Appointment]:
    """The contact's appointments `actor` sees (its Appointments tab): upcoming ones first,
    the soonest first, then past ones, the latest first."""
    link = appointment_contacts.c
    query = (
        visible_appointments(actor)
        .join(appointment_contacts, link.appointment_id == Appointment.id)
        .where(link.contact_id == contact_id)
        .order_by(*upcoming_first())
        .limit(limit)
    )
    return list(db.session.scalars(query))


def is_upcoming(appointment: Appointment, now: datetime | None = None) -> bool:
    """Not over yet."""
    return local_time.as_utc(appointment.ends_at) >= (now or utcnow())


def visible_contact_ids(actor: Actor, contact_ids: set[int]) -> set[int]:
    """Those of `contact_ids` that `actor` may see."""
    if not contact_ids:
        return set()
    query = select(Contact.id).where(Contact.id.in_(contact_ids), contact_visibility(actor))
    return set(db.session.scalars(query))


def visible_account_ids(actor: Actor, account_ids: set[int]) -> set[int]:
    if not account_ids:
        return set()
    query = select(Account.id).where(Account.id.in_(account_ids), account_visibility(actor))
    return set(db.session.scalars(query))


@dataclass
class Participants:
    """The participants of an appointment that a user may see, and how many others there are."""

    contacts: list[Contact] = field(default_factory=list)
    accounts: list[Account] = field(default_factory=list)
    users: list[User] = field(default_factory=list)
    hidden: int = 0


def participants_seen_by(actor: Actor, appointments: list[Appointment]) -> dict[int, Participants]:
    """Per appointment id, the participants `actor` may see (two queries for the lot)."""
    contact_ids = {c.id for a in appointments for c in a.contacts}
    account_ids = {a_.id for a in appointments for a_ in a.accounts}
    seen_contacts = visible_contact_ids(actor, contact_ids)
    seen_accounts = visible_account_ids(actor, account_ids)
    found = {}
    for appointment in appointments:
        contacts = [c for c in appointment.contacts if c.id in seen_contacts]
        accounts = [a for a in appointment.accounts if a.id in seen_accounts]
        hidden = len(appointment.contacts) - len(contacts)
        hidden += len(appointment.accounts) - len(accounts)
        found[appointment.id] = Participants(contacts, accounts, list(appointment.users), hidden)
    return found


# ---- saving --------------------------------------------------------------------------------
def new_uid() -> str:
    """A UID for the invitation: random, at the domain of the app's sender address."""
    domain = str(current_app.config.get("CRM_MAIL_FROM", "")).rpartition("@")[2] or "localhost"
    return f"{secrets.token_hex(16)}@{domain}"


def _moment(value: Any) -> datetime | None:
    """A form's date and time (naive: office time) or an aware datetime, in UTC."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return local_time.from_local(value)
    text = str(value).strip().replace(" ", "T", 1)
    try:
        return local_time.from_local(datetime.fromisoformat(text))
    except ValueError:
        raise v.FieldError("Give a date and time, like 2026-11-23 14:30.") from None


def _ids(value: Any) -> set[int]:
    """Ids given as numbers, text or records (or one text of ids separated by commas);
    FieldError for anything else."""
    if isinstance(value, str):
        value = [part for part in value.split(",") if part.strip()]
    found = set()
    for item in value or []:
        pk = record_id(getattr(item, "id", item))
        if pk is None:
            raise v.FieldError("Not a valid choice.")
        found.add(pk)
    return found


def check_may_change(actor: Actor, appointment: Appointment) -> None:
    if not can(actor, "appointment.edit"):
        raise PermissionDenied("You may not create or change appointments.")
    if get_visible_appointment(actor, appointment.id) is None:
        raise NotFound("No such appointment, or not one you may see.")


def save_appointment(
    actor: Actor, appointment: Appointment | None, data: dict[str, Any]
) -> Appointment:
    """Create an appointment (`appointment` None; the actor organises it) or change one the
    actor sees, from `data` (keys of APPOINTMENT_FIELDS; on a change, missing keys keep their
    value; "version" checks the edit is not stale). Participants the actor cannot see stay.
    ValidationFailed, PermissionDenied, StaleEditError."""
    if not can(actor, "appointment.edit"):
        raise PermissionDenied("You may not create or change appointments.")
    if appointment is not None:
        check_may_change(actor, appointment)
        if appointment.status == AppointmentStatus.CANCELLED:
            raise DomainError("This appointment is cancelled: it cannot be changed any more.")
        version = data.get("version")
        if version not in (None, "") and str(version) != str(appointment.version):
            raise StaleEditError(
                "Someone else saved this appointment after you opened it: reload it."
            )
    errors = v.FieldErrors()
    given = {name: data[name] for name in APPOINTMENT_FIELDS if name in data}
    values = _checked_fields(appointment, given, errors)
    links = _checked_participants(actor, appointment, given, errors)
    errors.raise_any()
    audit.note_actor(db.session, actor)
    if appointment is None:
        appointment = Appointment(
            owner_id=getattr(actor, "id", None), uid=new_uid(), sequence=0,
            status=AppointmentStatus.SCHEDULED,
        )  # fmt: skip
        db.session.add(appointment)
    elif _reschedules(appointment, values):
        appointment.sequence = (appointment.sequence or 0) + 1
    for name, value in values.items():
        setattr(appointment, name, value)
    for name, records in links.items():
        setattr(appointment, name, records)
    db.session.flush()
    return appointment


def _checked_fields(appointment: Appointment | None, given: dict, errors: v.FieldErrors) -> dict:
    is_new = appointment is None
    values: dict[str, Any] = {}
    if is_new or "subject" in given:
        values["subject"] = errors.one_line(
            "subject", given.get("subject"), MAX_SUBJECT, "Give the appointment a subject."
        )
    if is_new or "place" in given:
        place = errors.check("place", v.clean_limited, given.get("place"), MAX_PLACE)
        if place and ("\n" in place or "\r" in place):
            errors.add("place", "The place must be a single line.")
        values["place"] = place
    if is_new or "description" in given:
        values["description"] = errors.check(
            "description", v.clean_free_text, given.get("description")
        )
    starts = local_time.as_utc(appointment.starts_at) if appointment else None
    ends = local_time.as_utc(appointment.ends_at) if appointment else None
    if is_new or "starts_at" in given:
        starts = errors.check("starts_at", _moment, given.get("starts_at"))
        if starts is None and "starts_at" not in errors.found:
            errors.add("starts_at", "Give the start: a date and a time.")
        values["starts_at"] = starts
    if is_new or "ends_at" in given:
        ends = errors.check("ends_at", _moment, given.get("ends_at"))
        if ends is None and "ends_at" not in errors.found:
            errors.add("ends_at", "Give the end: a date and a time.")
        values["ends_at"] = ends
    if starts is not None and ends is not None:
        if ends <= starts:
            errors.add("ends_at", "The end must come after the start.")
        elif ends - starts > MAX_LENGTH:
            errors.add("ends_at", f"An appointment lasts at most {MAX_LENGTH.days} days.")
    return values


def _checked_participants(
    actor: Actor, appointment: Appointment | None, given: dict, errors: v.FieldErrors
) -> dict[str, list]:
    """The new participant lists: the chosen ones (newly added ones must be contacts and
    accounts the actor sees, and active users) plus those already there the actor cannot
    see (they were not offered, so they were not taken off)."""
    links: dict[str, list] = {}
    specs = (
        ("contact_ids", "contacts", Contact, visible_contact_ids, "Choose contacts you can see."),
        ("account_ids", "accounts", Account, visible_account_ids, "Choose accounts you can see."),
        ("user_ids", "users", User, None, ""),
    )
    total = 0
    for key, attr, model, visible, refusal in specs:
        current = list(getattr(appointment, attr)) if appointment is not None else []
        total += len(current)
        if key not in given:
            continue
        chosen = errors.check(key, _ids, given[key])
        if chosen is None:
            continue
        current_ids = {r.id for r in current}
        added = chosen - current_ids
        if visible is not None:
            kept_hidden = current_ids - visible(actor, current_ids)
            if added - visible(actor, added):
                errors.add(key, refusal)
                continue
        else:
            kept_hidden = set()
            if added:
                active = set(
                    db.session.scalars(
                        select(User.id).where(
                            User.id.in_(added), User.active.is_(True), User.roles.any()
                        )
                    )
                )
                if added - active:
                    errors.add(key, "Choose active users with a role (employees).")
                    continue
        wanted = chosen | kept_hidden
        total += len(wanted) - len(current)
        records = db.session.scalars(select(model).where(model.id.in_(wanted))).all()
        links[attr] = sorted(records, key=lambda r: r.id)
    if total > MAX_PARTICIPANTS:
        errors.add("contact_ids", f"An appointment has at most {MAX_PARTICIPANTS} participants.")
    return links


def _reschedules(appointment: Appointment, values: dict) -> bool:
    """Whether the change moves the meeting (time, place or subject): a new SEQUENCE."""
    for name in ("starts_at", "ends_at"):
        if name in values and local_time.as_utc(values[name]) != local_time.as_utc(
            getattr(appointment, name)
        ):
            return True
    return any(
        name in values and (values[name] or None) != (getattr(appointment, name) or None)
        for name in ("place", "subject")
    )


def cancel_appointment(actor: Actor, appointment: Appointment) -> Appointment:
    """Cancel it (kept, marked cancelled; its next invitation is a cancellation)."""
    if not can(actor, "appointment.edit"):
        raise PermissionDenied("You may not change appointments.")
    check_may_change(actor, appointment)
    if appointment.status == AppointmentStatus.CANCELLED:
        raise DomainError("This appointment is cancelled already.")
    audit.note_actor(db.session, actor)
    appointment.status = AppointmentStatus.CANCELLED
    appointment.sequence = (appointment.sequence or 0) + 1
    db.session.flush()
    return appointment
