"""The automations' settings: defaults before anyone saves them, checks per field (a
template's with its line), the right to change them, and the history entry."""

from __future__ import annotations

from datetime import time

import pytest

from crm.errors import PermissionDenied, ValidationFailed
from crm.extensions import db
from crm.models import AuditEntry, AutomationKind
from crm.services.automation import greetings, settings

GREETING = AutomationKind.BIRTHDAY_GREETING


def test_defaults_greetings_off_reminders_on(app):
    found = settings.all_automations()
    assert list(found) == list(AutomationKind)
    assert not found[GREETING].enabled and "{{ first_name" in found[GREETING].subject
    assert found[AutomationKind.TASK_DIGEST].enabled
    assert found[AutomationKind.TASK_DIGEST].send_time == time(8, 0)
    assert found[AutomationKind.APPOINTMENT_REMINDER].lead_minutes == 30


@pytest.mark.parametrize("role", ["crm_admin", "crm_manager", "crm_marketeer"])
def test_those_with_the_right_save_and_the_history_says_so(make_user, role):
    actor = make_user(role)
    data = {"enabled": "y", "subject": "Hi {{ first_name }}", "body_text": "Hello",
            "send_time": "7:05"}  # fmt: skip
    row = settings.save_automation(actor, GREETING, data)
    db.session.commit()
    assert (row.enabled, row.send_time, row.updated_by_id) == (True, time(7, 5), actor.id)
    entry = db.session.query(AuditEntry).filter_by(entity_type="automation").one()
    assert entry.summary == "Update automation Birthday greetings"
    assert entry.changes["send_time"] == ["09:00", "07:05"]


@pytest.mark.parametrize("role", ["crm_sales", "crm_list_manager"])
def test_others_may_not(make_user, role):
    with pytest.raises(PermissionDenied):
        settings.save_automation(make_user(role), GREETING, {"enabled": "y"})


def test_a_template_error_is_on_its_field_with_its_line(admin_user):
    body = "Dear {{ first_name }},\n\nHappy birthday!\n{{ frist_name }}\n"
    with pytest.raises(ValidationFailed) as refused:
        settings.save_automation(
            admin_user, GREETING,
            {"enabled": "y", "subject": "Hi {{ first_name", "body_text": body,
             "send_time": "25:00", "segment_id": "999"},
        )  # fmt: skip
    errors = refused.value.errors
    assert errors["body_text"][0].startswith("Line 4: there is no merge field {{ frist_name }}")
    assert errors["subject"][0].startswith("Line 1: ")
    assert errors["send_time"] == ["Give the time of day as hours and minutes, such as 08:00."]
    assert errors["segment_id"] == ["Choose a segment from the list (it may have been deleted)."]


def test_greetings_switched_on_need_a_message_off_they_do_not(admin_user):
    with pytest.raises(ValidationFailed) as refused:
        settings.save_automation(
            admin_user, GREETING, {"enabled": "y", "subject": "", "body_text": "  ",
                                   "send_time": "09:00"},
        )  # fmt: skip
    assert set(refused.value.errors) == {"subject", "body_text"}
    row = settings.save_automation(
        admin_user, GREETING, {"subject": "", "body_text": "", "send_time": "09:00"}
    )
    assert not row.enabled


def test_the_reminders_lead_time_is_checked(admin_user):
    for bad in ("", "4", "abc", "20000"):
        with pytest.raises(ValidationFailed) as refused:
            settings.save_automation(
                admin_user, AutomationKind.APPOINTMENT_REMINDER, {"lead_minutes": bad}
            )
        assert refused.value.errors["lead_minutes"] == [
            "Give a number of minutes from 5 to 10,080."
        ]


def test_the_preview_shows_a_contact_of_the_audience(admin_user, make_contact):
    row = settings.current(GREETING)
    rendered, who = greetings.preview(admin_user, row)
    assert who == "Ana Smith (a sample contact)" and rendered.subject == "Happy birthday, Ana!"
    make_contact(admin_user, first_name="Zoe", last_name="Ng", email="zoe@example.com",
                 email_marketing=True, birthday="1990-01-02")  # fmt: skip
    rendered, who = greetings.preview(admin_user, row)
    assert who == "Zoe Ng" and rendered.subject == "Happy birthday, Zoe!"
    assert "https://crm.example.com/unsubscribe/..." in rendered.text  # not Zoe's real link


def test_the_history_names_the_change_in_people_s_words(admin_user):
    from crm.services.card.history_words import described

    settings.save_automation(
        admin_user, AutomationKind.APPOINTMENT_REMINDER, {"enabled": "y", "lead_minutes": "45"}
    )
    settings.set_task_digest(admin_user, False)
    db.session.commit()
    entries = db.session.query(AuditEntry).filter(AuditEntry.action == "update").all()
    said = {
        item.what: [(c.field, c.old, c.new) for c in item.changes] for item in described(entries)
    }
    assert said["updated the automation Appointment reminders"] == [
        ("Minutes before the start", "30", "45"),
    ]  # fmt: skip
    assert said.get(f"updated the login {admin_user.email}") == [
        ("Email me my tasks every morning", "yes", "no")
    ], said
