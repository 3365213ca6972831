"""The meeting confirmation of an appointment (24SevenOffice: "Send meeting confirmation on
e-mail"): one mail to the participants who can be written to, with the iCalendar (.ics)
invitation attached (METHOD:REQUEST, or CANCEL once cancelled). The UID stays for the
appointment's life and SEQUENCE rises with each change, so calendars replace the event they
hold rather than add another one (RFC 5546)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from icalendar import Calendar, Event, vCalAddress, vText

from crm.auth.permissions import Actor
from crm.errors import DomainError
from crm.extensions import db
from crm.models import Appointment, AppointmentStatus, Contact, EmailKind, Medium
from crm.models.base import utcnow
from crm.services.card import interactions
from crm.services.card.appointments import check_may_change, visible_contact_ids
from crm.services.marketing import email_log
from crm.services.platform import audit, local_time, mail

PRODID = "-//Contacts CRM//Appointments//EN"
MAIL_OFF = (
    "Email is switched off on this server (CRM_MAIL_BACKEND=none): no confirmation can be "
    "sent. Set CRM_MAIL_BACKEND=smtp and CRM_SMTP_HOST in the server's environment."
)


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
    email interaction and a row of its Emails tab, and the appointment's history the event.
    MailNotSent: nothing is recorded."""
    check_may_change(actor, appointment)
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
    # Kept in the Emails tab of each contact it went to (users are not contacts).
    mailed = [(p, email) for email, _, p in recipients if isinstance(p, Contact)]
    email_log.send_logged(
        EmailKind.MEETING,
        mailed,
        mail.Mail(
            to=report.sent_to,
            subject=subject,
            body=body,
            reply_to=owner.email if owner is not None else None,
            attachments=[
                mail.Attachment("invite.ics", "text/calendar", invitation_ics(appointment, method),
                                params={"method": method, "charset": "utf-8"})
            ],
        ),
        actor,
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
