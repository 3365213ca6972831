"""Marketing > Automations through the test client: saved with CSRF, refused per field (a
template's error with its line), previewed without saving; and the profile's "Email me my
tasks every morning"."""

from __future__ import annotations

import re

from crm.extensions import db
from crm.models import Automation, AutomationKind, User
from tests.conftest import csrf_from

URL = "/admin/automations/"


def _post(client, data):
    token = csrf_from(client.get(URL).get_data(as_text=True))
    return client.post(URL, data={"csrf_token": token, **data})


def test_the_page_shows_the_three_automations_with_their_defaults(client, login_as):
    login_as("crm_marketeer")
    page = client.get(URL).get_data(as_text=True)
    for title in ("Birthday greetings", "Morning task emails", "Appointment reminders"):
        assert title in page
    assert 'id="greetings-send_time" value="09:00"' in page
    assert 'id="digest-send_time" value="08:00"' in page
    assert re.search(r'id="reminders-lead_minutes"[^>]*value="30"', page)
    assert "Scheduled work has not run yet" in page
    assert "{{ first_name }}" in page  # the merge fields are listed


def test_greetings_saved_and_shown_again(client, login_as):
    login_as("crm_manager")
    response = _post(client, {
        "section": "greetings", "action": "save", "enabled": "y",
        "subject": "Happy birthday {{ first_name }}", "body_text": "Dear {{ first_name }}",
        "send_time": "10:15", "segment_id": "",
    })  # fmt: skip
    assert response.status_code == 302 and response.location.endswith(f"{URL}#greetings")
    row = db.session.query(Automation).filter_by(kind=AutomationKind.BIRTHDAY_GREETING).one()
    assert (row.enabled, row.subject, row.send_time.isoformat()) == (
        True, "Happy birthday {{ first_name }}", "10:15:00",
    )  # fmt: skip
    page = client.get(URL).get_data(as_text=True)
    assert "Birthday greetings saved: on." in page
    assert 'id="greetings-send_time" value="10:15"' in page


def test_a_bad_merge_field_is_shown_on_its_field_with_its_line(client, login_as):
    login_as("crm_admin")
    response = _post(client, {
        "section": "greetings", "action": "save", "enabled": "y", "subject": "Hi",
        "body_text": "Dear {{ first_name }},\n{{ nickname }}", "send_time": "09:00",
    })  # fmt: skip
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Line 2: there is no merge field {{ nickname }}" in page
    assert "Dear {{ first_name }},\n{{ nickname }}</textarea>" in page  # kept as typed
    assert db.session.query(Automation).count() == 0


def test_the_preview_renders_without_saving(client, login_as):
    login_as("crm_admin")
    response = _post(client, {
        "section": "greetings", "action": "preview", "subject": "Hi {{ first_name }}",
        "body_text": "Dear **{{ first_name }}**", "send_time": "09:00",
    })  # fmt: skip
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Preview for Ana Smith (a sample contact)" in page
    assert '<strong id="greeting-preview-subject">Hi Ana</strong>' in page
    assert "Dear <strong>Ana</strong>" in page and "unsubscribe</a>" in page
    assert db.session.query(Automation).count() == 0


def test_a_post_without_its_csrf_token_is_refused(client, login_as):
    login_as("crm_admin")
    response = client.post(URL, data={"section": "digest", "send_time": "07:00"})
    assert response.status_code == 400
    assert db.session.query(Automation).count() == 0


def test_the_profile_switches_the_morning_email_off_and_on(client, login_as):
    user = login_as("crm_sales")
    page = client.get("/admin/profile/").get_data(as_text=True)
    assert re.search(r'id="task_digest"[^>]*checked', page)
    assert "Email me my tasks every morning" in page
    token = csrf_from(page)
    off = client.post("/admin/profile/task-digest/", data={"csrf_token": token})
    assert off.status_code == 302 and not db.session.get(User, user.id).task_digest
    page = client.get("/admin/profile/").get_data(as_text=True)
    assert "You will no longer get your tasks by email each morning." in page
    assert not re.search(r'id="task_digest"[^>]*checked', page)
    client.post("/admin/profile/task-digest/", data={"csrf_token": token, "task_digest": "y"})
    assert db.session.get(User, user.id).task_digest
