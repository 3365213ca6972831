"""The contact card through the web and the API: its tabs, the forms on them (notes,
comments, interactions, connections), the feed's poll, the Interactions list, and who may
see and do what."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm.extensions import db
from crm.models import AccessClass, Comment, Connection, ConnectionType, Interaction, Note
from crm.services.card import interactions, notes
from crm.services.platform.api_tokens import create_token
from tests.conftest import csrf_from, login


@pytest.fixture
def ana(make_contact):
    return make_contact(first_name="Ana", last_name="Smith", email="ana@example.com")


def _card(client, contact, **args) -> str:
    query = "".join(f"&{k}={v}" for k, v in args.items())
    response = client.get(f"/admin/contact/details/?id={contact.id}{query}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _post(client, contact, path: str, **data):
    token = csrf_from(_card(client, contact))
    return client.post(f"/admin/contact-card/{contact.id}/{path}",
                       data={"csrf_token": token, **data})  # fmt: skip


def test_the_card_has_every_tab_and_opens_the_one_asked_for(client, login_as, ana):
    login_as("crm_sales")
    html = _card(client, ana)
    for tab in ("profile", "activity", "history", "notes", "interactions", "tasks",
                "appointments", "files", "connections", "sales"):  # fmt: skip
        assert f'id="tab-{tab}"' in html
    assert 'class="tab-pane active" id="tab-profile"' in html
    assert 'class="tab-pane active" id="tab-notes"' in _card(client, ana, tab="notes")
    # An unknown tab opens the profile.
    assert 'class="tab-pane active" id="tab-profile"' in _card(client, ana, tab="nope")


def test_a_private_note_is_on_its_authors_card_only(client, login_as, make_user, ana):
    writer = login_as("crm_sales")
    response = _post(client, ana, "notes/", body="Private: budget is 10k", private="1")
    assert response.status_code == 302 and "tab=notes" in response.headers["Location"]
    _post(client, ana, "notes/", body="Likes <b>golf</b>")
    own = _card(client, ana, tab="notes")
    assert "Private: budget is 10k" in own and "Likes &lt;b&gt;golf&lt;/b&gt;" in own
    other = make_user("crm_manager")
    client.post("/logout", data={"csrf_token": csrf_from(own)})
    login(client, other.email)
    theirs = _card(client, ana, tab="notes")
    assert "budget" not in theirs and "golf" in theirs
    # Not in the activity feed, the history, or the API either.
    token = create_token(other, "script", ["contacts:read"])[1]
    db.session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    api = client.get(f"/api/v1/contacts/{ana.id}/notes", headers=headers)
    assert [n["body"] for n in api.get_json()["notes"]] == ["Likes <b>golf</b>"]
    api_history = client.get(f"/api/v1/contacts/{ana.id}/history", headers=headers)
    api_history = api_history.get_data(as_text=True)
    assert "budget" not in api_history and "golf" in api_history
    assert db.session.scalar(select(Note.author_id).where(Note.private)) == writer.id


def test_a_refused_form_comes_back_filled_in_with_its_message(client, login_as, ana):
    login_as("crm_sales")
    response = _post(client, ana, "interactions/", medium="call", subject="Called about the van",
                     occurred_at="yesterday-ish")  # fmt: skip
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Give a date and time, like 2026-11-23 14:30." in html
    assert 'value="Called about the van"' in html and 'value="yesterday-ish"' in html
    assert db.session.scalar(select(Interaction.id)) is None
    # Shown once: the next view of the card is clean.
    assert "Give a date and time" not in _card(client, ana, tab="interactions")
    # A text too long to keep in the session cookie: the message comes back without it.
    response = _post(client, ana, "comments/", body="x" * 5001)
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "A comment holds at most 5,000 characters." in html and "x" * 5001 not in html
    assert db.session.scalar(select(Comment.id)) is None


def test_an_interaction_registered_on_the_card_is_listed_and_filtered(client, login_as, ana):
    login_as("crm_sales")
    response = _post(client, ana, "interactions/", medium="letter", direction="out",
                     status="open", subject="Contract sent", body="By post")  # fmt: skip
    assert response.status_code == 302
    card = _card(client, ana, tab="interactions")
    assert "Contract sent" in card and "Letter" in card
    made = db.session.scalar(select(Interaction))
    _post(client, ana, f"interactions/{made.id}/status/", status="closed")
    assert db.session.get(Interaction, made.id).status.value == "closed"
    listed = client.get("/admin/interactions/").get_data(as_text=True)
    assert "Contract sent" in listed
    letters = client.get("/admin/interactions/?flt0_medium_equals=letter").get_data(as_text=True)
    calls = client.get("/admin/interactions/?flt0_medium_equals=call").get_data(as_text=True)
    assert "Contract sent" in letters and "Contract sent" not in calls
    mine = client.get(f"/admin/interactions/?flt0_contact_id_equals={ana.id}")
    assert "Contract sent" in mine.get_data(as_text=True)
    # Without a subject: refused on the field, nothing saved.
    refused = _post(client, ana, "interactions/", medium="call", subject="")
    page = client.get(refused.headers["Location"]).get_data(as_text=True)
    assert "Say what it was about." in page
    assert db.session.query(Interaction).count() == 1


def test_another_users_hidden_contact_is_closed_everywhere_on_the_card(
    client, make_user, make_contact
):
    manager = make_user("crm_manager")
    key = AccessClass(name="Key accounts")
    db.session.add(key)
    db.session.commit()
    kai = make_contact(manager, first_name="Kai", access_class=key)
    made = interactions.register(manager, kai, {"medium": "call", "subject": "Board call"})
    notes.add_note(manager, kai, "Board member")
    db.session.commit()
    sales = make_user("crm_sales")
    login(client, sales.email)
    assert client.get(f"/admin/contact/details/?id={kai.id}").status_code == 404
    assert client.get(f"/admin/contact-card/{kai.id}/comments.json").status_code == 404
    assert client.get(f"/admin/interactions/edit/?id={made.id}").status_code == 404
    assert client.get(f"/admin/interactions/details/?id={made.id}").status_code == 404
    assert "Board call" not in client.get("/admin/interactions/").get_data(as_text=True)
    token = csrf_from(client.get("/admin/interactions/new/").get_data(as_text=True))
    for path, data in (("notes/", {"body": "hi"}), ("comments/", {"body": "hi"}),
                       ("interactions/", {"medium": "call", "subject": "hi"})):  # fmt: skip
        response = client.post(f"/admin/contact-card/{kai.id}/{path}",
                               data={"csrf_token": token, **data})  # fmt: skip
        assert response.status_code == 404, path


def test_the_feed_poll_returns_new_comments_as_data(client, login_as, make_user, ana):
    login_as("crm_marketeer")
    _post(client, ana, "comments/", body="<script>alert(1)</script>")
    first = db.session.scalar(select(Comment))
    got = client.get(f"/admin/contact-card/{ana.id}/comments.json?after=0").get_json()
    assert [c["body"] for c in got["comments"]] == ["<script>alert(1)</script>"]
    assert client.get(
        f"/admin/contact-card/{ana.id}/comments.json?after={first.id}"
    ).get_json() == {"comments": []}
    # On the page, the comment is text.
    html = _card(client, ana, tab="activity")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html


def test_roles_without_contacts_can_neither_read_nor_write_the_card(client, make_user, ana):
    lister = make_user("crm_list_manager")
    login(client, lister.email)
    assert client.get(f"/admin/contact-card/{ana.id}/comments.json").status_code == 403
    token = csrf_from(client.get("/admin/connection-types/").get_data(as_text=True))
    for path in ("notes/", "comments/", "interactions/", "connections/"):
        response = client.post(f"/admin/contact-card/{ana.id}/{path}",
                               data={"csrf_token": token, "body": "x"})  # fmt: skip
        assert response.status_code == 403, path


def test_a_form_without_its_csrf_token_is_refused(client, login_as, ana):
    login_as("crm_sales")
    response = client.post(f"/admin/contact-card/{ana.id}/notes/", data={"body": "hello"})
    assert response.status_code == 400
    assert db.session.scalar(select(Note.id)) is None


def test_a_connection_made_on_one_card_shows_on_both(client, login_as, make_contact, ana):
    login_as("crm_sales")
    bob = make_contact(first_name="Bob", last_name="Jones")
    assistant = db.session.scalar(
        select(ConnectionType.id).where(ConnectionType.name == "Assistant")
    )
    response = _post(client, ana, "connections/", other_id=str(bob.id), type_id=str(assistant))
    assert response.status_code == 302
    assert "Assistant:" in _card(client, ana, tab="connections")
    bobs = _card(client, bob, tab="connections")
    assert "Assistant to:" in bobs and "Ana Smith" in bobs
    link = db.session.scalar(select(Connection))
    _post(client, bob, f"connections/{link.id}/delete/")
    assert db.session.scalar(select(Connection)) is None


def test_the_history_tab_filters_by_date(client, login_as, ana):
    login_as("crm_sales")
    html = _card(client, ana, tab="history")
    assert 'id="history-table"' in html and "Created the contact Ana Smith" in html
    empty = _card(client, ana, tab="history", since="2001-01-01", until="2001-01-31")
    assert "No history in this period." in empty
    # A date that is not a date is ignored, not a server error.
    assert "Created the contact" in _card(client, ana, tab="history", since="yesterday")


def test_the_api_registers_an_interaction_from_a_phone_system(client, make_user, ana):
    sales = make_user("crm_sales")
    token = create_token(sales, "phones", ["contacts:read", "contacts:write"])[1]
    db.session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    made = client.post(f"/api/v1/contacts/{ana.id}/interactions", headers=headers,
                       json={"medium": "call", "direction": "in", "subject": "Inbound call",
                             "occurred_at": "2026-11-22T09:15:00+01:00"})  # fmt: skip
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["occurred_at"].startswith("2026-11-22T08:15")
    bad = client.post(f"/api/v1/contacts/{ana.id}/interactions", headers=headers,
                      json={"medium": "fax"})  # fmt: skip
    assert bad.status_code == 422 and set(bad.get_json()["errors"]) == {"medium", "subject"}
    listed = client.get(f"/api/v1/contacts/{ana.id}/interactions", headers=headers).get_json()
    assert [i["subject"] for i in listed["interactions"]] == ["Inbound call"]
    assert client.get("/api/v1/contacts/999999/interactions", headers=headers).status_code == 404


def test_a_private_note_is_not_found_by_search_nor_exported(client, login_as, make_user, ana):
    writer = make_user("crm_sales")
    notes.add_note(writer, ana, "Zanzibar-secret plans", private=True)
    db.session.commit()
    login_as("crm_manager")
    row = f"details/?id={ana.id}"
    assert row in client.get("/admin/contact/?search=Smith").get_data(as_text=True)
    assert row not in client.get("/admin/contact/?search=Zanzibar").get_data(as_text=True)
    url = f"/admin/contact/bulk/?target=ids&ids={ana.id}"
    page = client.get(url).get_data(as_text=True)
    for file_format in ("csv", "xlsx", "vcf"):
        exported = client.post(url, data={"operation": "export", "export_format": file_format,
                                          "csrf_token": csrf_from(page)})  # fmt: skip
        assert exported.status_code == 200
        body = exported.get_data()
        if file_format == "xlsx":
            import io

            import openpyxl

            sheet = openpyxl.load_workbook(io.BytesIO(body)).active
            body = str([c.value for row in sheet.iter_rows() for c in row]).encode()
        assert b"Smith" in body and b"Zanzibar" not in body, file_format


def test_the_profile_links_emails_to_the_compose_page_and_respects_do_not(
    client, login_as, make_contact
):
    login_as("crm_sales")
    eve = make_contact(first_name="Eve", email="eve@example.com",
                       phones=[{"number": "+44 7400 123456"}])  # fmt: skip
    html = _card(client, eve)
    assert f"/admin/contact-messages/{eve.id}/email/?to=eve@example.com" in html
    assert 'href="tel:+447400123456"' in html and "contact-sms" in html
    eve.do_not_email, eve.do_not_call = True, True
    db.session.commit()
    html = _card(client, eve)
    assert "/email/?to=" not in html and "tel:" not in html and "contact-sms" not in html
    assert "Do not email" in html and "Do not call" in html


def test_an_id_beyond_what_the_database_holds_is_not_found(client, login_as, ana):
    login_as("crm_manager")
    huge = "9" * 30
    for url in (
        f"/admin/contact/details/?id={huge}",
        f"/admin/deal/details/?id={huge}",
        f"/admin/lead/details/?id={huge}",
        f"/admin/tasks/details/?id={huge}",
        f"/admin/appointments/details/?id={huge}",
        f"/admin/interactions/details/?id={huge}",
        f"/admin/contact-card/{huge}/comments.json",
        f"/admin/contact-files/{huge}/download/",
    ):
        assert client.get(url).status_code == 404, url


def test_the_card_reads_as_many_rows_in_the_same_number_of_queries(
    client, login_as, make_user, ana
):
    """No query per note, comment, interaction or connection (their authors, operators and
    types load with the page)."""
    from sqlalchemy import event

    from crm.services.card import activity

    def fill(n: int) -> None:
        for i in range(n):
            writer = make_user("crm_sales")
            notes.add_note(writer, ana, f"note {i}")
            activity.post_comment(writer, ana, f"comment {i}")
            interactions.register(writer, ana, {"medium": "call", "subject": f"call {i}",
                                                "operator_id": str(writer.id)})  # fmt: skip
        db.session.commit()

    def queries() -> int:
        seen: list[str] = []

        def count(*_args) -> None:
            seen.append("q")

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            _card(client, ana, tab="activity")
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        return len(seen)

    login_as("crm_manager")
    fill(1)
    few = queries()
    fill(8)
    assert queries() == few
