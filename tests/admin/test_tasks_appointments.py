"""The Tasks and Appointments pages and the contact's Tasks and Appointments tabs: the list's
scopes and filters, overdue tasks highlighted, records of contacts a user may not see kept
from them (lists, pages by id, buttons, autocomplete), a task and an appointment made from a
contact's page, the "Send meeting confirmation by email" box, and the rights."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from crm.admin.appointments import appointments_tab
from crm.extensions import db
from crm.models import AccessClass, Appointment, AppointmentStatus, Interaction, Task, TaskStatus
from crm.services.card import appointments, tasks
from crm.services.platform import local_time
from tests.admin.helpers import field_errors, post_form
from tests.conftest import csrf_from


def _count(model: type) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _hidden_contact(make_contact, owner):
    """A contact in an access class that no salesperson here was granted."""
    board = AccessClass(name="Board")
    db.session.add(board)
    db.session.flush()
    return make_contact(owner, first_name="Sam", last_name="Secret", access_class=board)


def _task(actor, contact, title, due=None, **data):
    task = tasks.save_task(actor, None, {"title": title, "contact_id": contact.id, "due_on": due,
                                         **data})  # fmt: skip
    db.session.commit()
    return task


def _titles(html: str) -> list[str]:
    """The task titles of a list page, in their order."""
    return re.findall(r'<td class="col-title[^"]*">\s*(.*?)\s*</td>', html, re.S)


@pytest.fixture
def world(make_user, make_contact):
    manager = make_user("crm_manager")
    ana = make_contact(manager, first_name="Ana", last_name="Smith", email="ana@example.com")
    sam = _hidden_contact(make_contact, manager)
    return {"manager": manager, "ana": ana, "sam": sam}


# ---- tasks --------------------------------------------------------------------------------
def test_the_list_shows_open_tasks_soonest_due_first_overdue_in_red(client, login_as, world):
    sales = login_as("crm_sales")
    ana, manager = world["ana"], world["manager"]
    today = local_time.today()
    _task(sales, ana, "Later", today + timedelta(days=5))
    _task(sales, ana, "Undated")
    _task(sales, ana, "Late", today - timedelta(days=1))
    done = _task(sales, ana, "Finished", today - timedelta(days=3))
    tasks.set_status(sales, done, TaskStatus.DONE)
    _task(manager, ana, "Manager's", today + timedelta(days=1), owner_id=manager.id)
    db.session.commit()
    html = client.get("/admin/tasks/").get_data(as_text=True)
    assert _titles(html) == ["Late", "Manager&#39;s", "Later", "Undated"]
    late_row = html[html.index("Late</td>") - 2000 : html.index("Late</td>")]
    assert "table-danger" in late_row
    assert html.count('badge badge-danger task-overdue">Overdue') == 1
    assert f'text-danger font-weight-bold task-due">{today - timedelta(days=1)}' in html
    all_html = client.get("/admin/tasks/?show=all").get_data(as_text=True)
    assert _titles(all_html)[-1] == "Finished"
    overdue = client.get("/admin/tasks/?show=overdue").get_data(as_text=True)
    assert _titles(overdue) == ["Late"]
    by_status = client.get("/admin/tasks/?flt0_status_is=done").get_data(as_text=True)
    assert _titles(by_status) == ["Finished"]  # a status filter is not limited to open ones
    mine = client.get("/admin/tasks/?flt0_owner_is=me").get_data(as_text=True)
    assert "Manager" not in " ".join(_titles(mine)) and "Late" in _titles(mine)
    theirs = client.get(f"/admin/tasks/?flt0_owner_is={manager.id}").get_data(as_text=True)
    assert _titles(theirs) == ["Manager&#39;s"]
    by_contact = client.get("/admin/tasks/?flt0_contact_name_contains=smith&show=all")
    assert len(_titles(by_contact.get_data(as_text=True))) == 5
    nobody = client.get("/admin/tasks/?flt0_contact_name_contains=zzzz").get_data(as_text=True)
    assert _titles(nobody) == []
    due = client.get(f"/admin/tasks/?flt0_due_equals={today + timedelta(days=5)}")
    assert _titles(due.get_data(as_text=True)) == ["Later"]


def test_tasks_of_a_contact_the_user_cannot_see_are_kept_from_them(client, login_as, world):
    hidden = _task(world["manager"], world["sam"], "Board secret")
    login_as("crm_sales")
    assert "Board secret" not in client.get("/admin/tasks/?show=all").get_data(as_text=True)
    assert client.get(f"/admin/tasks/details/?id={hidden.id}").status_code == 404
    assert client.get(f"/admin/tasks/edit/?id={hidden.id}").status_code == 404
    page = client.get("/admin/tasks/").get_data(as_text=True)
    token = csrf_from(page)
    response = client.post(f"/admin/tasks/{hidden.id}/status/",
                           data={"status": "done", "csrf_token": token})  # fmt: skip
    assert response.status_code == 404
    client.post("/admin/tasks/action/", data={"action": "mark_done", "rowid": [str(hidden.id)],
                                              "csrf_token": token})  # fmt: skip
    client.post("/admin/tasks/delete/", data={"id": str(hidden.id), "csrf_token": token})
    db.session.refresh(hidden)
    assert hidden.status == TaskStatus.OPEN
    lookup = client.get("/admin/tasks/ajax/lookup/?name=contact&query=Secret")
    assert lookup.status_code == 200 and "Secret" not in lookup.get_data(as_text=True)


def test_a_task_given_to_a_user_on_a_contact_they_cannot_see(client, login_as, world):
    sales = login_as("crm_sales")
    task = _task(world["manager"], world["sam"], "Prepare the board", owner_id=sales.id)
    listing = client.get("/admin/tasks/").get_data(as_text=True)
    assert "Prepare the board" in listing and "Secret" not in listing
    assert "(one you may not see)" in listing
    details = client.get(f"/admin/tasks/details/?id={task.id}").get_data(as_text=True)
    assert "Secret" not in details and 'id="mark-done"' in details
    url = f"/admin/tasks/edit/?id={task.id}"
    edit = client.get(url).get_data(as_text=True)
    assert "Secret" not in edit and 'name="contact"' not in edit
    response = post_form(client, url, {"title": "Prepare the board meeting", "status": "open",
                                       "due_on": "", "account": ""})  # fmt: skip
    assert response.status_code == 302, field_errors(response.get_data(as_text=True))
    db.session.refresh(task)
    assert (task.title, task.contact_id) == ("Prepare the board meeting", world["sam"].id)


def test_a_task_from_a_contacts_page_and_marked_done_from_its_tab(client, login_as, world):
    sales = login_as("crm_sales")
    ana = world["ana"]
    back = f"/admin/contact/details/?id={ana.id}&tab=tasks"
    url = f"/admin/tasks/new/?contact_id={ana.id}&url={back.replace('&', '%26')}"
    form_page = client.get(url).get_data(as_text=True)
    assert "Ana Smith" in form_page  # the contact is chosen already
    assert 'name="owner"' not in form_page  # sales own the tasks they create
    response = post_form(client, url, {"title": "Send the offer", "description": "",
                                       "status": "open", "due_on": "2030-05-06",
                                       "contact": str(ana.id), "account": ""})  # fmt: skip
    assert response.status_code == 302, field_errors(response.get_data(as_text=True))
    assert response.headers["Location"].endswith(back)
    task = db.session.scalar(select(Task))
    assert (task.contact_id, task.owner_id, task.created_by_id) == (ana.id, sales.id, sales.id)
    html = client.get(back).get_data(as_text=True)  # the contact's page, on its Tasks tab
    assert 'id="new-task"' in html and f"/admin/tasks/{task.id}/status/" in html
    done = client.post(
        f"/admin/tasks/{task.id}/status/",
        data={"status": "done", "url": back, "csrf_token": csrf_from(form_page)},
    )
    assert done.status_code == 302 and done.headers["Location"].endswith(back)
    db.session.refresh(task)
    assert task.status == TaskStatus.DONE and task.completed_at is not None
    outside = client.post(
        f"/admin/tasks/{task.id}/status/",
        data={"status": "open", "url": "https://evil.example/", "csrf_token": csrf_from(form_page)},
    )
    assert outside.headers["Location"].endswith(f"/admin/tasks/details/?id={task.id}")


def test_a_task_form_refused_by_the_rules_keeps_the_messages(client, login_as, world):
    login_as("crm_sales")
    response = post_form(client, "/admin/tasks/new/", {"title": "Orphan", "status": "open",
                                                       "due_on": "", "contact": "",
                                                       "account": ""})  # fmt: skip
    assert response.status_code == 200
    assert "Choose the contact or the account" in field_errors(response.get_data(as_text=True))
    hidden = post_form(client, "/admin/tasks/new/", {"title": "Spy", "status": "open",
                                                     "contact": str(world["sam"].id)})  # fmt: skip
    assert hidden.status_code == 200 and _count(Task) == 0


def test_managers_give_tasks_to_others_and_mark_them_done_in_bulk(
    client, login_as, world, make_user
):
    login_as("crm_manager")
    colleague = make_user("crm_sales")
    page = client.get(f"/admin/tasks/new/?contact_id={world['ana'].id}").get_data(as_text=True)
    assert 'name="owner"' in page
    response = post_form(client, "/admin/tasks/new/", {
        "title": "For you", "status": "in_progress", "contact": str(world["ana"].id),
        "owner": str(colleague.id), "due_on": "",
    })  # fmt: skip
    assert response.status_code == 302, field_errors(response.get_data(as_text=True))
    task = db.session.scalar(select(Task))
    assert (task.owner_id, task.status) == (colleague.id, TaskStatus.IN_PROGRESS)
    details = client.get(f"/admin/tasks/details/?id={task.id}").get_data(as_text=True)
    assert 'id="mark-done"' in details and 'id="mark-in_progress"' not in details
    listing = client.get("/admin/tasks/").get_data(as_text=True)
    marked = client.post(
        "/admin/tasks/action/",
        data={"action": "mark_done", "rowid": [str(task.id)], "csrf_token": csrf_from(listing)},
        follow_redirects=True,
    )
    assert "1 task(s) marked done." in marked.get_data(as_text=True)
    db.session.refresh(task)
    assert task.status == TaskStatus.DONE


def test_the_tasks_tab_filters_by_status_and_owner(client, login_as, world):
    sales = login_as("crm_sales")
    ana, manager = world["ana"], world["manager"]
    today = local_time.today()
    late = _task(sales, ana, "Late one", today - timedelta(days=2))
    theirs = _task(manager, ana, "Theirs", today + timedelta(days=2), owner_id=manager.id)
    done = _task(sales, ana, "Done one")
    tasks.set_status(sales, done, "done")
    db.session.commit()

    def tab(query: str) -> str:
        page = client.get(f"/admin/contact/details/?id={ana.id}&tab=tasks&{query}")
        html = page.get_data(as_text=True)
        return html[html.index('id="contact-tasks"') : html.index('id="tab-appointments"')]

    html = tab("")
    assert 'id="tasks-table"' in html and "Late one" in html and "Theirs" in html
    assert "Done one" not in html
    row = html[html.index(f'id="task-{late.id}"') - 40 : html.index(f'id="task-{late.id}"')]
    assert "table-danger" in row and 'badge badge-danger">Overdue' in html
    assert f'<tr class="" id="task-{theirs.id}"' in html
    assert "Done one" in tab("task_status=done") and "Late one" not in tab("task_status=done")
    mine = tab("task_owner=me&task_status=all")
    assert "Late one" in mine and "Done one" in mine and "Theirs" not in mine
    assert "Late one" not in tab(f"task_owner={manager.id}")
    assert "task_owner=me" in html and f"task_owner={manager.id}" in html  # the owner links
    assert "Late one" in tab("task_status=nonsense")  # an unknown filter: the default


# ---- appointments -------------------------------------------------------------------------
APPOINTMENT = {
    "subject": "Kick-off",
    "place": "Room 1",
    "starts_at": "2031-03-04T09:30",
    "ends_at": "2031-03-04T10:30",
    "description": "",
    "accounts": "",
}


def test_the_box_sends_the_confirmation_after_saving(client, login_as, world, smtp_server):
    sales = login_as("crm_sales")
    ana = world["ana"]
    back = f"/admin/contact/details/?id={ana.id}%26tab=appointments"
    url = f"/admin/appointments/new/?contact_id={ana.id}&url={back}"
    page = client.get(url).get_data(as_text=True)
    assert "Ana Smith" in page and "Send meeting confirmation by email" in page
    response = post_form(client, url, {**APPOINTMENT, "contacts": str(ana.id),
                                       "users": [str(world["manager"].id)],
                                       "send_confirmation": "y"})  # fmt: skip
    assert response.status_code == 302, field_errors(response.get_data(as_text=True))
    assert response.headers["Location"].endswith(f"?id={ana.id}&tab=appointments")
    meeting = db.session.scalar(select(Appointment))
    assert meeting.owner_id == sales.id and meeting.confirmation_sent_at is not None
    ((_, recipients, message),) = smtp_server.messages
    assert sorted(recipients) == sorted(["ana@example.com", world["manager"].email])
    assert [p.get_content_type() for p in message.iter_attachments()] == ["text/calendar"]
    flashed = client.get(f"/admin/appointments/details/?id={meeting.id}").get_data(as_text=True)
    assert "Meeting confirmation sent to ana@example.com" in flashed
    assert _count(Interaction) == 1


def test_a_failed_mail_keeps_the_appointment_and_says_so(app, client, login_as, world):
    app.config.update(CRM_MAIL_BACKEND="smtp", CRM_SMTP_HOST="127.0.0.1", CRM_SMTP_PORT=9,
                      CRM_SMTP_TIMEOUT=2)  # fmt: skip
    login_as("crm_sales")
    response = post_form(client, "/admin/appointments/new/", {
        **APPOINTMENT, "contacts": str(world["ana"].id), "send_confirmation": "y",
    })  # fmt: skip
    assert response.status_code == 302
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The appointment is saved, but the confirmation was not sent" in html
    meeting = db.session.scalar(select(Appointment))
    assert meeting.confirmation_sent_at is None and _count(Interaction) == 0


def test_appointment_form_errors_and_times_in_the_office_zone(app, client, login_as, world):
    app.config["CRM_TIMEZONE"] = "Europe/Oslo"
    login_as("crm_sales")
    bad = post_form(client, "/admin/appointments/new/", {
        **APPOINTMENT, "ends_at": "2031-03-04T09:00", "contacts": str(world["ana"].id),
    })  # fmt: skip
    assert "The end must come after the start." in field_errors(bad.get_data(as_text=True))
    response = post_form(
        client, "/admin/appointments/new/", {**APPOINTMENT, "contacts": str(world["ana"].id)}
    )
    assert response.status_code == 302
    meeting = db.session.scalar(select(Appointment))
    assert local_time.as_utc(meeting.starts_at) == datetime(2031, 3, 4, 8, 30, tzinfo=UTC)
    edit = client.get(f"/admin/appointments/edit/?id={meeting.id}").get_data(as_text=True)
    assert 'value="2031-03-04T09:30"' in edit  # shown back in office time
    listing = client.get("/admin/appointments/").get_data(as_text=True)
    assert "2031-03-04 09:30–10:30" in listing


def test_cancelling_from_its_page_mails_the_cancellation(client, login_as, world, smtp_server):
    sales = login_as("crm_sales")
    meeting = appointments.save_appointment(sales, None, {
        "subject": "Review", "starts_at": "2031-01-01 10:00", "ends_at": "2031-01-01 11:00",
        "contact_ids": [world["ana"].id],
    })  # fmt: skip
    db.session.commit()
    page = client.get(f"/admin/appointments/details/?id={meeting.id}").get_data(as_text=True)
    assert 'id="send-confirmation"' in page and 'id="cancel-appointment"' in page
    assert "Ana Smith &lt;ana@example.com&gt;" in page
    response = client.post(
        f"/admin/appointments/{meeting.id}/cancel/",
        data={"notify": "y", "csrf_token": csrf_from(page)}, follow_redirects=True,
    )  # fmt: skip
    html = response.get_data(as_text=True)
    assert "Appointment &#39;Review&#39; cancelled." in html and "Cancellation sent to" in html
    ((_, _, message),) = smtp_server.messages
    assert message["Subject"] == "Cancelled: Review"
    db.session.refresh(meeting)
    assert meeting.status == AppointmentStatus.CANCELLED and meeting.sequence == 1
    assert 'id="cancel-appointment"' not in html and "Send the cancellation by email" in html


def test_appointments_and_participants_a_user_cannot_see(client, login_as, world, make_user):
    manager, ana, sam = world["manager"], world["ana"], world["sam"]
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)

    def meet(subject, hours, contacts):
        return appointments.save_appointment(manager, None, {
            "subject": subject, "starts_at": now + timedelta(hours=hours),
            "ends_at": now + timedelta(hours=hours + 1), "contact_ids": [c.id for c in contacts],
        })  # fmt: skip

    secret = meet("Board meeting", 5, [sam])
    mixed = meet("Mixed", 30, [ana, sam])
    past = meet("Last week", -170, [ana])
    soon = meet("Soon", 2, [ana])
    db.session.commit()
    sales = login_as("crm_sales")
    html = client.get("/admin/appointments/").get_data(as_text=True)
    assert "Board meeting" not in html
    assert html.index("Soon") < html.index("Mixed") < html.index("Last week")  # upcoming first
    assert "Sam" not in html and "and 1 other(s)" in html
    assert client.get(f"/admin/appointments/details/?id={secret.id}").status_code == 404
    assert client.get(f"/admin/appointments/edit/?id={secret.id}").status_code == 404
    token = csrf_from(html)
    for action in ("confirm", "cancel"):
        refused = client.post(f"/admin/appointments/{secret.id}/{action}/",
                              data={"csrf_token": token})  # fmt: skip
        assert refused.status_code == 404
    edit = client.get(f"/admin/appointments/edit/?id={mixed.id}").get_data(as_text=True)
    assert "Secret" not in edit and "Ana Smith" in edit
    upcoming = client.get("/admin/appointments/?flt0_when_is=past").get_data(as_text=True)
    assert "Last week" in upcoming and "Soon" not in upcoming
    with client.application.test_request_context(f"/admin/contact/details/?id={ana.id}"):
        tab = appointments_tab(sales, ana)
    page = client.get(f"/admin/contact/details/?id={ana.id}&tab=appointments")
    html = page.get_data(as_text=True)
    html = html[html.index('id="contact-appointments"') : html.index('id="tab-files"')]
    assert [r.appointment for r in tab.upcoming] == [soon, mixed]
    assert [r.appointment for r in tab.past] == [past]
    assert 'id="appointments-table"' in html and 'id="new-appointment"' in html
    assert "Sam" not in html and "and 1 other(s)" in html


def test_the_appointment_list_filters(client, login_as, world, make_user):
    sales = login_as("crm_sales")
    ana, manager = world["ana"], world["manager"]

    def meet(actor, subject, day):
        appointments.save_appointment(actor, None, {
            "subject": subject, "starts_at": f"{day} 10:00", "ends_at": f"{day} 11:00",
            "contact_ids": [ana.id],
        })  # fmt: skip

    meet(sales, "Mine on the 4th", "2031-03-04")
    meet(manager, "Theirs on the 5th", "2031-03-05")
    meet(manager, "Theirs on the 9th", "2031-03-09")
    db.session.commit()

    def subjects(query: str) -> set[str]:
        html = client.get(f"/admin/appointments/?{query}").get_data(as_text=True)
        return set(re.findall(r"(Mine|Theirs) on the (\d+th)", html))

    assert subjects("flt0_organiser_is=me") == {("Mine", "4th")}
    assert subjects(f"flt0_organiser_is={manager.id}") == {("Theirs", "5th"), ("Theirs", "9th")}
    assert subjects("flt0_date_on=2031-03-05") == {("Theirs", "5th")}
    assert subjects("flt0_date_from=2031-03-05&flt1_date_until=2031-03-08") == {("Theirs", "5th")}
    assert subjects("flt0_status_is=cancelled") == set()
    assert subjects("flt0_when_is=upcoming") == {("Mine", "4th"), ("Theirs", "5th"),
                                                  ("Theirs", "9th")}  # fmt: skip


@pytest.mark.parametrize(
    "url",
    ["/admin/tasks/", "/admin/tasks/new/", "/admin/appointments/", "/admin/appointments/new/"],
)
def test_list_managers_are_refused(client, login_as, url):
    login_as("crm_list_manager")
    assert client.get(url).status_code == 403


def test_list_managers_cannot_post_either(client, login_as, world, make_user):
    task = _task(world["manager"], world["ana"], "Theirs")
    login_as("crm_list_manager")
    token = csrf_from(client.get("/admin/permissions/").get_data(as_text=True))
    response = client.post(f"/admin/tasks/{task.id}/status/",
                           data={"status": "done", "csrf_token": token})  # fmt: skip
    assert response.status_code == 403
    db.session.refresh(task)
    assert task.status == TaskStatus.OPEN
