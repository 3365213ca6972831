"""Appointments (seed 002): a time, a place, a subject and participants (contacts, accounts,
users), and the meeting confirmation mailed with an iCalendar (.ics) invitation.

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
from icalendar import Calendar, Event, vCalAddress, vText
from sqlalchemy import ColumnElement, Select, case, false, or_, select

from crm.auth.permissions import Actor, can
from crm.errors import DomainError, NotFound, PermissionDenied, StaleEditError
from crm.extensions import db
from crm.models import (
    Account,
    Appointment,
    AppointmentStatus,
    Contact,
    Medium,
    User,
    appointment_accounts,
    appointment_contacts,
    appointment_users,
)
from crm.models.base import utcnow
from crm.services import audit, interactions, local_time, mail
from crm.services import validation as v
from crm.services.access import account_visibility, contact_visibility

MAX_SUBJECT = 200
MAX_PLACE = 200
MAX_LENGTH = timedelta(days=14)  # longer is a typing mistake (or a holiday, not a meeting)
MAX_PARTICIPANTS = 100
APPOINTMENT_FIELDS = (
    "subject", "place", "description", "starts_at", "ends_at",
    "contact_ids", "account_ids", "user_ids",
)  # fmt: skip
PRODID = "-//Contacts CRM//Appointments//EN"
MAIL_OFF = (
    "Email is switched off on this server (CRM_MAIL_BACKEND=none): no confirmation can be "
    "sent. Set CRM_MAIL_BACKEND=smtp and CRM_SMTP_HOST in the server's environment."
)


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
    try:
        pk = int(str(appointment_id))
    except (TypeError, ValueError):
        return None
    if not 0 < pk < 2**63:
        return None
    return db.session.scalar(visible_appointments(actor).where(Appointment.id == pk))


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
        item = getattr(item, "id", item)
        try:
            pk = int(str(item))
        except (TypeError, ValueError):
            raise v.FieldError("Not a valid choice.") from None
        if not 0 < pk < 2**63:
            raise v.FieldError("Not a valid choice.")
        found.add(pk)
    return found


def _check_allowed(actor: Actor, appointment: Appointment) -> None:
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
        _check_allowed(actor, appointment)
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
        subject = errors.check("subject", v.clean_limited, given.get("subject"), MAX_SUBJECT)
        if not subject and "subject" not in errors.found:
            errors.add("subject", "Give the appointment a subject.")
        elif subject and ("\n" in subject or "\r" in subject):
            errors.add("subject", "The subject must be a single line.")
        values["subject"] = subject
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
    _check_allowed(actor, appointment)
    if appointment.status == AppointmentStatus.CANCELLED:
        raise DomainError("This appointment is cancelled already.")
    audit.note_actor(db.session, actor)
    appointment.status = AppointmentStatus.CANCELLED
    appointment.sequence = (appointment.sequence or 0) + 1
    db.session.flush()
    return appointment


# ---- the invitation --------------------------------------------------------------------------
def _param(value: str) -> str:
    """A parameter value (CN): one line, no double quotes (iCalendar cannot escape them)."""
    return " ".join(str(value).replace('"', "'").split())


def _address(email: str, name: str, **params: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    if name:
        address.params["CN"] = vText(_param(name))
    for key, value in params.items():
        address.params[key.replace("_", "-").upper()] = value
    return address


def attendees_of(appointment: Appointment) -> list[tuple[str, str, Any]]:
    """(email, name, participant) of each participant who can be written to: the contacts
    with an address and no "do not email", and the users but the organiser (the ORGANIZER)."""
    found: list[tuple[str, str, Any]] = []
    seen: set[str] = set()
    for contact in appointment.contacts:
        if contact.email and not contact.do_not_email and contact.email.lower() not in seen:
            seen.add(contact.email.lower())
            found.append((contact.email.lower(), contact.full_name, contact))
    for user in appointment.users:
        if user.email and user.email.lower() not in seen and user.id != appointment.owner_id:
            seen.add(user.email.lower())
            found.append((user.email.lower(), user.full_name or user.email, user))
    return found


def invitation_ics(appointment: Appointment, method: str = "REQUEST") -> bytes:
    """The appointment as an iCalendar invitation (method REQUEST) or cancellation (CANCEL):
    one VEVENT with the appointment's UID and SEQUENCE, times in UTC, the organiser and one
    ATTENDEE per participant who can be written to."""
    if method not in ("REQUEST", "CANCEL"):
        raise ValueError(f"Unknown iTIP method {method!r}")
    config = current_app.config
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", method)
    event = Event()
    event.add("uid", appointment.uid)
    event.add("sequence", appointment.sequence or 0)
    event.add("dtstamp", utcnow().replace(microsecond=0))
    event.add("dtstart", local_time.as_utc(appointment.starts_at))
    event.add("dtend", local_time.as_utc(appointment.ends_at))
    event.add("summary", appointment.subject)
    if appointment.place:
        event.add("location", appointment.place)
    if appointment.description:
        event.add("description", appointment.description)
    sender = config.get("CRM_MAIL_FROM", "crm@localhost")
    owner = appointment.owner
    if owner is not None:
        organizer = _address(
            owner.email, owner.full_name or owner.email, sent_by=f"mailto:{sender}"
        )
    else:
        organizer = _address(sender, config.get("CRM_NAME", "Contacts CRM"))
    event.add("organizer", organizer)
    for email, name, _ in attendees_of(appointment):
        event.add(
            "attendee",
            _address(email, name, cutype="INDIVIDUAL", role="REQ-PARTICIPANT",
                     partstat="NEEDS-ACTION", rsvp="TRUE"),
        )  # fmt: skip
    cancelled = method == "CANCEL" or appointment.status == AppointmentStatus.CANCELLED
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    calendar.add_component(event)
    return calendar.to_ical()


def _when_text(appointment: Appointment) -> str:
    starts = local_time.to_local(appointment.starts_at)
    ends = local_time.to_local(appointment.ends_at)
    zone = local_time.zone_name()
    if starts.date() == ends.date():
        return f"{starts:%A %d %B %Y, %H:%M}–{ends:%H:%M} ({zone})"
    return f"{starts:%A %d %B %Y, %H:%M} – {ends:%A %d %B %Y, %H:%M} ({zone})"


def confirmation_text(appointment: Appointment, cancelled: bool) -> str:
    """The mail's readable body: what, when, where, who."""
    names = [c.full_name for c in appointment.contacts]
    names += [a.name for a in appointment.accounts]
    names += [u.full_name or u.email for u in appointment.users]
    organiser = appointment.owner
    lines = [
        "This meeting is cancelled." if cancelled else "Meeting confirmation",
        "",
        f"What:  {appointment.subject}",
        f"When:  {_when_text(appointment)}",
        f"Where: {appointment.place or '(no place given)'}",
        f"Who:   {', '.join(names) or '(no participants)'}",
    ]
    if organiser is not None:
        lines.append(f"Organiser: {organiser.full_name or organiser.email} <{organiser.email}>")
    if appointment.description and not cancelled:
        lines += ["", appointment.description]
    lines += ["", "The invitation is attached (invite.ics) for your calendar."]
    return "\n".join(lines) + "\n"


@dataclass
class ConfirmationReport:
    """What send_confirmation did: the addresses mailed, and the participants it skipped
    with the reason (no email address, do not email). What it tells the actor names only
    the contacts the actor may see (`shown_sent_to`, `skipped`; `others` counts the rest)."""

    sent_to: list[str] = field(default_factory=list)
    shown_sent_to: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    others: int = 0
    cancellation: bool = False
    mail_leaves: bool = True  # False: the console backend wrote it to the log

    def summary(self) -> str:
        what = "Cancellation" if self.cancellation else "Meeting confirmation"
        names = ", ".join(self.shown_sent_to) or f"{len(self.sent_to)} participant(s)"
        text = f"{what} sent to {names}."
        if not self.mail_leaves:
            text = f"{what} written to the server log (mail backend: console), not sent."
        if self.skipped:
            text += " Not sent to: " + "; ".join(f"{n} ({why})" for n, why in self.skipped) + "."
        if self.others:
            text += f" ({self.others} participant(s) you may not see not named here.)"
        return text


def send_confirmation(actor: Actor, appointment: Appointment) -> ConfirmationReport:
    """Mail the meeting confirmation (or, for a cancelled appointment, the cancellation) to
    the participants in one message, the .ics attached; each contact mailed gets an outgoing
    email interaction, and the appointment's history the event. MailNotSent: nothing is
    recorded."""
    _check_allowed(actor, appointment)
    if current_app.config.get("CRM_MAIL_BACKEND", "console") == "none":
        raise DomainError(MAIL_OFF)
    cancelled = appointment.status == AppointmentStatus.CANCELLED
    report = ConfirmationReport(cancellation=cancelled, mail_leaves=mail.sends_mail())
    seen = visible_contact_ids(actor, {c.id for c in appointment.contacts})
    for contact in appointment.contacts:
        reason = "do not email" if contact.do_not_email else None
        reason = reason or (None if contact.email else "no email address")
        if reason and contact.id in seen:
            report.skipped.append((contact.full_name, reason))
        elif reason:
            report.others += 1
    recipients = attendees_of(appointment)
    if not recipients:
        skipped = "; ".join(f"{n} ({why})" for n, why in report.skipped)
        raise DomainError(
            "Nobody to send the confirmation to: add participants with an email address"
            + (f" (not mailed: {skipped})." if skipped else ".")
        )
    report.sent_to = [email for email, _, _ in recipients]
    report.shown_sent_to = [
        email for email, _, p in recipients if not isinstance(p, Contact) or p.id in seen
    ]
    report.others += len(report.sent_to) - len(report.shown_sent_to)
    method = "CANCEL" if cancelled else "REQUEST"
    subject = f"{'Cancelled' if cancelled else 'Invitation'}: {appointment.subject}"
    body = confirmation_text(appointment, cancelled)
    owner = appointment.owner
    mail.send(
        mail.Mail(
            to=report.sent_to,
            subject=subject,
            body=body,
            reply_to=owner.email if owner is not None else None,
            attachments=[
                mail.Attachment("invite.ics", "text/calendar", invitation_ics(appointment, method),
                                params={"method": method, "charset": "utf-8"})
            ],
        )
    )  # fmt: skip
    _record_sent(actor, appointment, recipients, report, body, cancelled)
    return report


def _record_sent(
    actor: Actor,
    appointment: Appointment,
    recipients: list[tuple[str, str, Any]],
    report: ConfirmationReport,
    body: str,
    cancelled: bool,
) -> None:
    audit.note_actor(db.session, actor)
    now = utcnow()
    appointment.confirmation_sent_at = now
    label = "Meeting cancelled" if cancelled else "Meeting confirmation"
    mailed_contacts = [p for _, _, p in recipients if isinstance(p, Contact)]
    for contact in mailed_contacts:
        interactions.record_outgoing(actor, contact, Medium.EMAIL, contact.email,
                                     f"{label}: {appointment.subject}", body)  # fmt: skip
    audit.record_event(
        db.session,
        actor,
        "send_cancellation" if cancelled else "send_invitation",
        "appointment",
        f"{label} for {appointment.subject!r} mailed to {len(report.sent_to)} participant(s)",
        # No addresses: the entry is shown on each participant's page, to whoever sees it.
        {"method": "CANCEL" if cancelled else "REQUEST", "recipients": len(report.sent_to),
         "sequence": appointment.sequence},
        entity_id=appointment.id,
        contact_ids=[c.id for c in appointment.contacts],
    )  # fmt: skip
    db.session.flush()
