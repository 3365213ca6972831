"""Appointments: saving them (times, participants the actor sees), the invitation (.ics) read
back with icalendar, the confirmation mailed to a real local SMTP server, do-not-email
participants skipped and reported, SEQUENCE raised by a move, and cancellation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar

from crm.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from crm.extensions import db
from crm.models import AccessClass, Account, Appointment, AppointmentStatus, Interaction, Medium
from crm.services.card import appointments, invitations
from crm.services.platform.mail import MailNotSent
from tests.services.conftest import count, history, reload

START = datetime(2031, 3, 4, 9, 30)
END = START + timedelta(hours=1)


def _meeting(actor, **data):
    values = {"subject": "Kick-off", "place": "Room 1", "starts_at": START, "ends_at": END}
    values.update(data)
    return appointments.save_appointment(actor, None, values)


def _ics(message) -> Calendar:
    (part,) = [p for p in message.iter_attachments() if p.get_filename() == "invite.ics"]
    return Calendar.from_ical(part.get_content())


def test_an_appointment_with_participants(app, sales, make_user, make_contact):
    ana = make_contact(sales, email="ana@example.com")
    colleague = make_user("crm_manager")
    acme = Account(name="Acme")
    db.session.add(acme)
    db.session.flush()
    meeting = _meeting(sales, contact_ids=[ana.id], account_ids=str(acme.id),
                       user_ids=[colleague], description="Agenda\n- one")  # fmt: skip
    db.session.commit()
    meeting = reload(meeting)
    assert (meeting.owner_id, meeting.sequence, meeting.status) == (
        sales.id, 0, AppointmentStatus.SCHEDULED,
    )  # fmt: skip
    assert meeting.uid.endswith("@localhost") and len(meeting.uid) > 30  # CRM_MAIL_FROM's domain
    assert [c.id for c in meeting.contacts] == [ana.id] and meeting.accounts == [acme]
    assert meeting.users == [colleague]
    assert meeting.starts_at.replace(tzinfo=None) == START  # UTC: the office's zone by default
    assert [c.id for c in appointments.appointments_of_contact(sales, ana.id)] == [meeting.id]
    assert history(entity_type="appointment")[0].action == "create"


def test_times_typed_in_the_office_time_zone_are_kept_in_utc(app, sales):
    app.config["CRM_TIMEZONE"] = "Europe/Oslo"
    meeting = _meeting(sales)  # 09:30 in Oslo in March is 08:30 UTC
    db.session.commit()
    stored = reload(meeting).starts_at.replace(tzinfo=UTC)
    assert stored == datetime(2031, 3, 4, 8, 30, tzinfo=UTC)
    aware = _meeting(sales, starts_at=START.replace(tzinfo=UTC), ends_at=END.replace(tzinfo=UTC))
    assert aware.starts_at == START.replace(tzinfo=UTC)


def test_every_rule_is_a_message_on_its_field(sales, manager, make_user, make_contact):
    with pytest.raises(ValidationFailed) as refused:
        appointments.save_appointment(sales, None, {"subject": "", "starts_at": "soon"})
    assert set(refused.value.errors) == {"subject", "starts_at", "ends_at"}
    with pytest.raises(ValidationFailed) as refused:
        _meeting(sales, ends_at=START)
    assert refused.value.errors == {"ends_at": ["The end must come after the start."]}
    with pytest.raises(ValidationFailed) as refused:
        _meeting(sales, ends_at=START + timedelta(days=15))
    assert refused.value.errors == {"ends_at": ["An appointment lasts at most 14 days."]}
    secret = AccessClass(name="Board")
    db.session.add(secret)
    db.session.flush()
    hidden = make_contact(manager, first_name="Sam", access_class=secret)
    gone = make_user("crm_sales", active=False)
    login_only = make_user()  # a contact's generated login: not an employee
    with pytest.raises(ValidationFailed) as refused:
        _meeting(sales, contact_ids=[hidden.id], user_ids=[gone.id], account_ids=["x"])
    with pytest.raises(ValidationFailed):
        _meeting(sales, user_ids=[login_only.id])
    assert refused.value.errors == {
        "contact_ids": ["Choose contacts you can see."],
        "user_ids": ["Choose active users with a role (employees)."],
        "account_ids": ["Not a valid choice."],
    }
    with pytest.raises(PermissionDenied):
        _meeting(make_user("crm_list_manager"))
    assert count(Appointment) == 0


def test_participants_the_editor_cannot_see_stay(sales, manager, make_contact):
    secret = AccessClass(name="Board")
    db.session.add(secret)
    db.session.flush()
    hidden = make_contact(manager, first_name="Sam", access_class=secret)
    ana = make_contact(manager, first_name="Ana")
    bo = make_contact(manager, first_name="Bo")
    meeting = _meeting(manager, contact_ids=[hidden.id, ana.id])
    db.session.commit()
    seen = appointments.participants_seen_by(sales, [meeting])[meeting.id]
    assert [c.id for c in seen.contacts] == [ana.id] and seen.hidden == 1
    appointments.save_appointment(sales, meeting, {"contact_ids": [bo.id]})  # ana off, bo on
    db.session.commit()
    assert {c.id for c in reload(meeting).contacts} == {hidden.id, bo.id}


def test_moving_it_raises_the_sequence_other_changes_do_not(sales):
    meeting = _meeting(sales)
    db.session.commit()
    appointments.save_appointment(sales, meeting, {"description": "Bring slides"})
    assert meeting.sequence == 0
    appointments.save_appointment(sales, meeting, {"starts_at": START, "place": "Room 1"})
    assert meeting.sequence == 0  # the same values again
    appointments.save_appointment(sales, meeting, {"starts_at": START + timedelta(minutes=15)})
    assert meeting.sequence == 1
    appointments.save_appointment(sales, meeting, {"place": "Room 2", "subject": "Kick-off 2"})
    db.session.commit()
    assert reload(meeting).sequence == 2


def test_the_invitation_reads_back(app, sales, make_user, make_contact):
    ana = make_contact(sales, first_name="Ana", last_name='O"Neil, Jr', email="ana@example.com")
    quiet = make_contact(sales, first_name="Quiet", email="quiet@example.com", do_not_email=True)
    colleague = make_user("crm_manager", email="colleague@example.com")
    meeting = _meeting(sales, contact_ids=[ana.id, quiet.id], user_ids=[colleague.id, sales.id])
    calendar = Calendar.from_ical(invitations.invitation_ics(meeting))
    assert (str(calendar["version"]), str(calendar["method"])) == ("2.0", "REQUEST")
    assert "Contacts CRM" in str(calendar["prodid"])
    (event,) = calendar.walk("VEVENT")
    assert (str(event["uid"]), int(event["sequence"])) == (meeting.uid, 0)
    assert event["dtstart"].dt == START.replace(tzinfo=UTC)
    assert event["dtend"].dt == END.replace(tzinfo=UTC)
    assert (str(event["summary"]), str(event["location"])) == ("Kick-off", "Room 1")
    assert str(event["status"]) == "CONFIRMED" and event["dtstamp"].dt.tzinfo is not None
    assert str(event["organizer"]) == f"mailto:{sales.email}"
    attendees = {str(a): a.params for a in event["attendee"]}
    # The organiser and the contact who asked not to be emailed are not invited.
    assert set(attendees) == {"mailto:ana@example.com", "mailto:colleague@example.com"}
    ana_params = attendees["mailto:ana@example.com"]
    assert ana_params["CN"] == "Ana O'Neil, Jr"
    assert (ana_params["ROLE"], ana_params["PARTSTAT"], ana_params["RSVP"]) == (
        "REQ-PARTICIPANT", "NEEDS-ACTION", "TRUE",
    )  # fmt: skip
    cancel = Calendar.from_ical(invitations.invitation_ics(meeting, "CANCEL"))
    assert str(cancel["method"]) == "CANCEL"
    assert str(cancel.walk("VEVENT")[0]["status"]) == "CANCELLED"


def test_the_confirmation_arrives_and_is_recorded(app, smtp_server, sales, make_user, make_contact):
    ana = make_contact(sales, first_name="Ana", email="ana@example.com")
    quiet = make_contact(sales, first_name="Quiet", email="quiet@example.com", do_not_email=True)
    silent = make_contact(sales, first_name="Silent")
    colleague = make_user("crm_manager", email="colleague@example.com")
    meeting = _meeting(sales, contact_ids=[ana.id, quiet.id, silent.id], user_ids=[colleague.id])
    db.session.commit()
    report = invitations.send_confirmation(sales, meeting)
    db.session.commit()
    assert report.sent_to == ["ana@example.com", "colleague@example.com"]
    assert report.skipped == [("Quiet Smith", "do not email"), ("Silent Smith", "no email address")]
    assert "Not sent to: Quiet Smith (do not email); Silent Smith" in report.summary()
    ((sender, rcpts, message),) = smtp_server.messages
    assert sender == "crm@localhost" and sorted(rcpts) == ["ana@example.com",
                                                           "colleague@example.com"]  # fmt: skip
    assert message["Subject"] == "Invitation: Kick-off" and message["Reply-To"] == sales.email
    body = message.get_body(("plain",)).get_content()
    assert "When:  Tuesday 04 March 2031, 09:30–10:30 (UTC)" in body
    assert "Where: Room 1" in body and "Ana Smith" in body and "Quiet Smith" in body
    (part,) = list(message.iter_attachments())
    assert part.get_content_type() == "text/calendar"
    assert part.get_param("method") == "REQUEST" and part.get_filename() == "invite.ics"
    (event,) = _ics(message).walk("VEVENT")
    assert str(event["uid"]) == meeting.uid
    meeting = reload(meeting)
    assert meeting.confirmation_sent_at is not None
    (mailed,) = db.session.scalars(db.select(Interaction)).all()
    assert (mailed.contact_id, mailed.medium, mailed.direction.value, mailed.status.value) == (
        ana.id, Medium.EMAIL, "out", "closed",
    )  # fmt: skip
    assert mailed.subject == "Meeting confirmation: Kick-off" and mailed.operator_id == sales.id
    (event_entry,) = history(action="send_invitation")
    assert event_entry.entity_id == meeting.id and event_entry.user_id == sales.id


def test_a_cancelled_appointment_sends_a_cancellation(app, smtp_server, sales, make_contact):
    ana = make_contact(sales, email="ana@example.com")
    meeting = _meeting(sales, contact_ids=[ana.id])
    db.session.commit()
    appointments.cancel_appointment(sales, meeting)
    db.session.commit()
    assert (meeting.status, meeting.sequence) == (AppointmentStatus.CANCELLED, 1)
    with pytest.raises(DomainError, match="cancelled already"):
        appointments.cancel_appointment(sales, meeting)
    with pytest.raises(DomainError, match="cannot be changed"):
        appointments.save_appointment(sales, meeting, {"subject": "Again"})
    report = invitations.send_confirmation(sales, meeting)
    db.session.commit()
    assert report.cancellation and report.summary().startswith("Cancellation sent to")
    ((_, _, message),) = smtp_server.messages
    assert message["Subject"] == "Cancelled: Kick-off"
    (part,) = list(message.iter_attachments())
    assert part.get_param("method") == "CANCEL"
    calendar = _ics(message)
    (event,) = calendar.walk("VEVENT")
    assert (str(calendar["method"]), str(event["status"]), int(event["sequence"])) == (
        "CANCEL", "CANCELLED", 1,
    )  # fmt: skip
    (mailed,) = db.session.scalars(db.select(Interaction)).all()
    assert mailed.subject == "Meeting cancelled: Kick-off"
    (entry,) = history(action="send_cancellation")
    assert entry.entity_id == meeting.id and entry.changes["method"] == "CANCEL"


def test_a_mail_server_failure_records_nothing(app, sales, make_contact):
    app.config.update(CRM_MAIL_BACKEND="smtp", CRM_SMTP_HOST="127.0.0.1", CRM_SMTP_PORT=9,
                      CRM_SMTP_TIMEOUT=2)  # fmt: skip
    meeting = _meeting(sales, contact_ids=[make_contact(sales, email="ana@example.com").id])
    db.session.commit()
    with pytest.raises(MailNotSent, match="could not be sent"):
        invitations.send_confirmation(sales, meeting)
    db.session.rollback()
    assert count(Interaction) == 0 and reload(meeting).confirmation_sent_at is None
    assert history(action="send_invitation") == []


def test_nobody_to_mail_and_mail_switched_off_are_refused(app, sales, make_contact):
    quiet = make_contact(sales, email="q@example.com", do_not_email=True)
    meeting = _meeting(sales, contact_ids=[quiet.id])
    with pytest.raises(DomainError, match=r"Nobody to send .* \(not mailed: Ana Smith \(do not"):
        invitations.send_confirmation(sales, meeting)
    app.config["CRM_MAIL_BACKEND"] = "none"
    with pytest.raises(DomainError, match="switched off"):
        invitations.send_confirmation(sales, meeting)


def test_who_sees_appointments(sales, manager, make_user, make_contact):
    secret = AccessClass(name="Board")
    db.session.add(secret)
    db.session.flush()
    hidden = make_contact(manager, first_name="Sam", access_class=secret)
    seen = make_contact(manager, first_name="Ana")
    other = make_user("crm_sales")
    private = _meeting(manager, contact_ids=[hidden.id])
    inviting = _meeting(manager, contact_ids=[hidden.id], user_ids=[sales.id])
    public = _meeting(manager, contact_ids=[seen.id, hidden.id])
    internal = _meeting(other)
    db.session.commit()
    visible = set(db.session.scalars(appointments.visible_appointments(sales)))
    assert visible == {inviting, public}
    assert appointments.get_visible_appointment(sales, private.id) is None
    assert appointments.get_visible_appointment(sales, internal.id) is None
    with pytest.raises(NotFound):
        appointments.cancel_appointment(sales, private)
    with pytest.raises(NotFound):
        invitations.send_confirmation(sales, private)


def test_a_contacts_appointments_upcoming_first_then_past(sales, make_contact):
    ana = make_contact(sales)
    now = datetime.now(UTC).replace(microsecond=0, tzinfo=None)

    def at(hours):
        return _meeting(sales, contact_ids=[ana.id], subject=f"at {hours}",
                        starts_at=now + timedelta(hours=hours),
                        ends_at=now + timedelta(hours=hours + 1))  # fmt: skip

    past_long_ago, next_week, past_yesterday, tomorrow = at(-300), at(170), at(-30), at(20)
    db.session.commit()
    found = appointments.appointments_of_contact(sales, ana.id)
    assert found == [tomorrow, next_week, past_yesterday, past_long_ago]
    assert appointments.is_upcoming(tomorrow) and not appointments.is_upcoming(past_yesterday)
