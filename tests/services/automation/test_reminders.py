"""Users' reminders sent by `run_due`: the morning email of each user's tasks due today and
overdue (once a day, from its time, not to those who switched it off, not when there is
nothing), and a reminder before each appointment to its organiser and the users taking
part (once, again when it moves). A real local SMTP server receives them."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

from crm.extensions import db
from crm.models import AutomationKind, Task, TaskStatus
from crm.services.automation import settings
from crm.services.automation.run_due import run_due
from crm.services.card import appointments, tasks
from tests.services.automation.conftest import received


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def task(owner, contact, title: str, due: str, **data) -> Task:
    made = tasks.save_task(
        owner, None, {"title": title, "due_on": due, "contact_id": contact.id, **data}
    )
    db.session.commit()
    return made


def digests(smtp_server) -> list[tuple[str, str]]:
    return [(to, subject) for to, subject in received(smtp_server) if "Your tasks" in subject]


def test_each_user_gets_the_morning_email_of_their_tasks_once_a_day(
    app, smtp_server, make_user, make_contact
):
    app.config["CRM_TIMEZONE"] = "Europe/Oslo"
    ana = make_user("crm_sales", email="ana@example.com")
    bo = make_user("crm_sales", email="bo@example.com")
    off = make_user("crm_sales", email="off@example.com")
    off.task_digest = False
    make_user("crm_sales", email="idle@example.com")  # no task due: no mail
    gone = make_user("crm_sales", email="gone@example.com")
    client = make_contact(ana, first_name="Carla", last_name="Client")
    task(ana, client, "Call Carla back", "2027-03-02")
    task(ana, client, "Send the offer", "2027-02-25")  # overdue
    task(ana, client, "Plan next year", "2027-03-10")  # not yet due
    task(ana, client, "Done already", "2027-03-01", status=TaskStatus.DONE.value)
    task(bo, make_contact(bo, first_name="Dan", last_name="Deal"), "Visit Dan", "2027-03-02")
    task(off, client, "Quiet task", "2027-03-02")
    task(gone, client, "Gone task", "2027-03-02")
    gone.active = False
    db.session.commit()

    run_due(at("2027-03-02T06:59"))  # 07:59 in Oslo: before the default 08:00
    assert digests(smtp_server) == []
    run_due(at("2027-03-02T07:00"))
    run_due(at("2027-03-02T07:00"))  # the same minute again
    run_due(at("2027-03-02T11:00"))  # later that day
    assert sorted(digests(smtp_server)) == [
        ("ana@example.com", "Your tasks for Tuesday 02 March: 1 due today, 1 overdue"),
        ("bo@example.com", "Your tasks for Tuesday 02 March: 1 due today"),
    ]
    (message,) = [m for _, rcpt, m in smtp_server.messages if rcpt == ["ana@example.com"]]
    body = message.get_content()
    assert "- Send the offer (Carla Client): overdue since 25 February" in body
    assert "- Call Carla back (Carla Client): today" in body
    assert "Plan next year" not in body and "Done already" not in body
    assert "/admin/tasks/edit/?id=" in body and "Email me my tasks every morning" in body

    run_due(at("2027-03-03T07:30"))  # the next morning: again
    assert len(digests(smtp_server)) == 4


def test_the_time_of_the_morning_email_is_a_setting_and_it_can_be_off(
    smtp_server, make_user, make_contact, admin_user
):
    ana = make_user("crm_sales", email="ana@example.com")
    task(ana, make_contact(ana), "Call", "2027-03-02")
    settings.save_automation(
        admin_user, AutomationKind.TASK_DIGEST, {"enabled": "y", "send_time": "06:30"}
    )
    db.session.commit()
    run_due(at("2027-03-02T06:30"))
    assert len(digests(smtp_server)) == 1
    settings.save_automation(admin_user, AutomationKind.TASK_DIGEST, {"send_time": "06:30"})
    db.session.commit()
    report = run_due(at("2027-03-03T06:30"))
    assert len(digests(smtp_server)) == 1
    assert [p.outcome for p in report.parts if p.name == "Morning task emails"] == ["off"]


def test_a_refused_morning_email_is_tried_again_next_run(app, smtp_server, make_user, make_contact):
    ana = make_user("crm_sales", email="ana@example.com")
    task(ana, make_contact(ana), "Call", "2027-03-02")
    port = app.config["CRM_SMTP_PORT"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        app.config["CRM_SMTP_PORT"] = probe.getsockname()[1]  # nothing listens there
    report = run_due(at("2027-03-02T08:00"))
    assert [p.outcome for p in report.parts if p.name == "Morning task emails"] == [
        "0 sent, 1 failed"
    ]
    app.config["CRM_SMTP_PORT"] = port
    run_due(at("2027-03-02T08:01"))
    run_due(at("2027-03-02T08:02"))
    assert len(digests(smtp_server)) == 1


def test_an_appointment_is_reminded_of_once_to_its_people(smtp_server, make_user, make_contact):
    organiser = make_user("crm_sales", email="org@example.com")
    guest = make_user("crm_manager", email="guest@example.com")
    make_user("crm_manager", email="absent@example.com")  # not taking part
    client = make_contact(organiser, first_name="Carla", last_name="Client")
    meeting = appointments.save_appointment(
        organiser, None,
        {"subject": "Kick-off", "place": "Room 1", "starts_at": datetime(2027, 3, 2, 10, 0),
         "ends_at": datetime(2027, 3, 2, 11, 0), "user_ids": [guest.id],
         "contact_ids": [client.id]},
    )  # fmt: skip
    db.session.commit()

    def reminders():
        return sorted(
            (to, subject) for to, subject in received(smtp_server) if "Reminder" in subject
        )

    run_due(at("2027-03-02T09:29"))  # 31 minutes before: the default is 30
    assert reminders() == []
    run_due(at("2027-03-02T09:30"))
    run_due(at("2027-03-02T09:30"))
    run_due(at("2027-03-02T09:45"))
    assert reminders() == [
        ("guest@example.com", "Reminder: Kick-off at 10:00"),
        ("org@example.com", "Reminder: Kick-off at 10:00"),
    ]
    body = smtp_server.messages[0][2].get_content()
    assert "Where: Room 1" in body and "Carla Client" in body
    assert f"/admin/appointments/details/?id={meeting.id}" in body

    # Moved to later: its new time is reminded of too; once it has started, nothing.
    appointments.save_appointment(
        organiser, meeting,
        {"starts_at": datetime(2027, 3, 2, 15, 0), "ends_at": datetime(2027, 3, 2, 16, 0)},
    )  # fmt: skip
    db.session.commit()
    run_due(at("2027-03-02T14:40"))
    run_due(at("2027-03-02T15:00"))
    assert len(reminders()) == 4
    assert sorted(received(smtp_server)[2:]) == [
        ("guest@example.com", "Reminder: Kick-off at 15:00"),
        ("org@example.com", "Reminder: Kick-off at 15:00"),
    ]


def test_the_reminder_lead_time_is_a_setting(smtp_server, make_user, admin_user):
    organiser = make_user("crm_sales", email="org@example.com")
    appointments.save_appointment(
        organiser, None,
        {"subject": "Review", "starts_at": datetime(2027, 3, 2, 10, 0),
         "ends_at": datetime(2027, 3, 2, 11, 0)},
    )  # fmt: skip
    settings.save_automation(
        admin_user, AutomationKind.APPOINTMENT_REMINDER, {"enabled": "y", "lead_minutes": "120"}
    )
    db.session.commit()
    run_due(at("2027-03-02T07:59"))
    assert smtp_server.messages == []
    run_due(at("2027-03-02T08:00"))
    assert received(smtp_server) == [("org@example.com", "Reminder: Review at 10:00")]
