"""The email and SMS compose pages of a contact, as a salesperson would use them: the form,
sending, errors on the fields, refusals, and the gates (right, visibility, CSRF)."""

from __future__ import annotations

import html
import re

import pytest

from crm.extensions import db
from crm.models import AccessClass, Interaction, Medium
from tests.admin.helpers import field_errors, post_form
from tests.conftest import csrf_from
from tests.services.conftest import count
from tests.services.fake_twilio import fake_twilio

MOBILE = {"type": "Mobile", "country_code": "+44", "number": "7400 123456"}
WORK = {"type": "Work", "country_code": "+1", "number": "201-555-0123"}


@pytest.fixture
def ana(make_contact):
    return make_contact(
        email="ana@example.com", email_secondary="ana.private@example.org", phones=[MOBILE, WORK]
    )


@pytest.fixture
def twilio(app):
    with fake_twilio() as fake:
        app.config.update(fake.settings())
        yield fake


def _email_url(contact, query: str = "") -> str:
    return f"/admin/contact-messages/{contact.id}/email/{query}"


def _sms_url(contact, query: str = "") -> str:
    return f"/admin/contact-messages/{contact.id}/sms/{query}"


def _selected(page: str, name: str) -> str | None:
    select = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', page, re.S)
    assert select, f"no select {name}"
    chosen = re.search(r'<option selected value="([^"]*)"', select.group(1)) or re.search(
        r'<option[^>]*value="([^"]*)"[^>]*selected', select.group(1)
    )
    return chosen.group(1) if chosen else None


def _mobile(contact) -> int:
    return next(phone.id for phone in contact.phones if phone.e164 == "+447400123456")


# ---- email ------------------------------------------------------------------------------


def test_the_email_form_offers_the_contacts_addresses(client, login_as, ana):
    me = login_as("crm_sales")
    response = client.get(_email_url(ana, "?to=ana.private@example.org"))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'id="email-form"' in page and 'name="csrf_token"' in page
    assert '<option value="ana@example.com">' in page
    assert _selected(page, "to") == "ana.private@example.org"
    assert f"Replies go to you ({me.email})" in page
    assert "written to the server&#39;s log, not sent" in page  # the console backend


def test_sending_the_email_delivers_it_and_lists_it_under_interactions(
    client, login_as, ana, smtp_server
):
    me = login_as("crm_sales")
    response = post_form(
        client,
        _email_url(ana),
        {"to": "ana@example.com", "subject": "Our meeting", "body": "Dear Ana,\r\nsee you."},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == (f"/admin/contact/details/?id={ana.id}&tab=emails")
    [(_, recipients, mail)] = smtp_server.messages
    assert recipients == ["ana@example.com"] and mail["Subject"] == "Our meeting"
    assert mail["Reply-To"] == me.email
    [interaction] = db.session.query(Interaction).all()
    assert (interaction.medium, interaction.contact_id, interaction.operator_id) == (
        Medium.EMAIL, ana.id, me.id,
    )  # fmt: skip
    assert interaction.body == "Dear Ana,\nsee you."
    with client.session_transaction() as session:
        assert (
            "success",
            "Email sent to ana@example.com; it is listed under Emails and Interactions.",
        ) in (session["_flashes"])


def test_errors_are_shown_on_their_fields_and_the_text_is_kept(
    client, login_as, ana, make_contact, smtp_server
):
    login_as("crm_sales")
    make_contact(first_name="Bob", email="bob@example.com")
    response = post_form(
        client, _email_url(ana), {"to": "bob@example.com", "subject": "", "body": "Keep me"}
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    errors = field_errors(page)
    assert "bob@example.com is not an address of this contact" in errors
    assert "Write a subject." in errors
    assert "Keep me</textarea>" in page
    assert smtp_server.messages == [] and count(Interaction) == 0


def test_a_mail_server_that_is_down_is_said_and_nothing_is_recorded(app, client, login_as, ana):
    app.config.update(CRM_MAIL_BACKEND="smtp", CRM_SMTP_HOST="127.0.0.1", CRM_SMTP_PORT=9,
                      CRM_SMTP_TIMEOUT=2)  # fmt: skip
    login_as("crm_sales")
    response = post_form(
        client, _email_url(ana), {"to": "ana@example.com", "subject": "Hi", "body": "Hello"}
    )
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 200
    assert re.search(r'id="message-failure"[^>]*>The mail could not be sent', page)
    assert "Hello</textarea>" in page
    assert count(Interaction) == 0


def test_do_not_email_shows_the_reason_and_no_form(client, login_as, make_contact, smtp_server):
    login_as("crm_sales")
    ana = make_contact(email="ana@example.com", do_not_email=True)
    page = client.get(_email_url(ana)).get_data(as_text=True)
    assert "Do not email: this contact asked not to receive email" in page
    assert 'id="email-form"' not in page
    token = csrf_from(page)  # the sign-out form's token serves the session as well
    response = client.post(
        _email_url(ana),
        data={"csrf_token": token, "to": "ana@example.com", "subject": "Hi", "body": "Hello"},
    )
    assert response.status_code == 200
    assert "Do not email" in response.get_data(as_text=True)
    assert smtp_server.messages == [] and count(Interaction) == 0


def test_a_post_without_its_csrf_token_is_refused(client, login_as, ana, smtp_server):
    login_as("crm_sales")
    response = client.post(
        _email_url(ana), data={"to": "ana@example.com", "subject": "Hi", "body": "Hello"}
    )
    assert response.status_code == 400
    assert smtp_server.messages == [] and count(Interaction) == 0


@pytest.mark.parametrize("kind", ["email", "sms"])
def test_a_user_without_the_right_gets_403(client, login_as, ana, smtp_server, kind):
    login_as("crm_list_manager")
    url = f"/admin/contact-messages/{ana.id}/{kind}/"
    assert client.get(url).status_code == 403
    page = client.get("/admin/permissions/").get_data(as_text=True)
    response = client.post(url, data={"csrf_token": csrf_from(page), "to": "ana@example.com",
                                      "subject": "Hi", "body": "Hello"})  # fmt: skip
    assert response.status_code == 403
    assert smtp_server.messages == [] and count(Interaction) == 0


@pytest.mark.parametrize("kind", ["email", "sms"])
def test_a_contact_the_user_cannot_see_is_not_found(client, login_as, make_user, make_contact,
                                                    smtp_server, kind):  # fmt: skip
    board = AccessClass(name="Board")
    db.session.add(board)
    kept = make_contact(make_user("crm_admin"), email="kept@example.com", phones=[MOBILE],
                        access_class=board)  # fmt: skip
    login_as("crm_sales")
    url = f"/admin/contact-messages/{kept.id}/{kind}/"
    page = client.get(url)
    assert page.status_code == 404
    token = csrf_from(client.get("/admin/").get_data(as_text=True))
    response = client.post(url, data={"csrf_token": token, "to": "kept@example.com",
                                      "subject": "Hi", "body": "Hello",
                                      "phone_id": kept.phones[0].id})  # fmt: skip
    assert response.status_code == 404
    assert client.get("/admin/contact-messages/999999/email/").status_code == 404
    assert smtp_server.messages == [] and count(Interaction) == 0


def test_signed_out_visitors_are_sent_to_sign_in(client, ana):
    response = client.get(_email_url(ana))
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# ---- SMS --------------------------------------------------------------------------------


def test_the_sms_form_preselects_the_number_and_counts(client, login_as, ana):
    login_as("crm_sales")
    work = next(phone.id for phone in ana.phones if phone.e164 == "+12015550123")
    page = client.get(_sms_url(ana, f"?phone_id={work}")).get_data(as_text=True)
    assert 'id="sms-form"' in page
    assert _selected(page, "phone_id") == str(work)
    assert "Mobile: +44 7400 123456" in page
    assert '<span id="sms-characters">0</span> of 1600 characters' in page
    assert 'href="tel:+12015550123"' in page


def test_sending_an_sms_reaches_the_provider_and_is_recorded(client, login_as, ana, twilio):
    me = login_as("crm_sales")
    response = post_form(
        client, _sms_url(ana), {"phone_id": _mobile(ana), "body": "See you at 10."}
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"?id={ana.id}&tab=interactions")
    [request] = twilio.received
    assert (request.form["To"], request.form["Body"]) == ("+447400123456", "See you at 10.")
    [interaction] = db.session.query(Interaction).all()
    assert (interaction.medium, interaction.address, interaction.operator_id) == (
        Medium.SMS, "+447400123456", me.id,
    )  # fmt: skip


def test_a_provider_refusal_is_shown_with_the_text_kept_and_counted(client, login_as, ana, twilio):
    login_as("crm_sales")
    refusal = "Permission to send an SMS has not been enabled for the region of the 'To' number"
    twilio.answer_with(400, {"code": 21408, "message": refusal})
    text = "a" * 161
    response = post_form(client, _sms_url(ana), {"phone_id": _mobile(ana), "body": text})
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 200
    assert "Twilio refused it (HTTP 400): Permission to send an SMS" in page
    assert f"{text}</textarea>" in page
    assert '<span id="sms-characters">161</span>' in page
    assert '<span id="sms-segments">2</span>' in page
    assert count(Interaction) == 0


def test_an_empty_sms_is_refused_on_its_field(client, login_as, ana, twilio):
    login_as("crm_sales")
    response = post_form(client, _sms_url(ana), {"phone_id": _mobile(ana), "body": ""})
    assert "Write the message." in field_errors(response.get_data(as_text=True))
    assert twilio.received == []


def test_sms_not_configured_says_how_to_set_it_up(app, client, login_as, ana):
    app.config.update(CRM_SMS_BACKEND="none")
    login_as("crm_sales")
    page = client.get(_sms_url(ana)).get_data(as_text=True)
    assert "SMS is not configured on this server." in page
    assert "CRM_SMS_BACKEND=twilio" in page and "CRM_TWILIO_AUTH_TOKEN" in page
    assert 'id="sms-form"' not in page
    assert 'href="tel:+447400123456"' in page  # calling still works


def test_do_not_call_shows_the_reason_no_form_and_no_call_link(
    client, login_as, make_contact, twilio
):
    login_as("crm_sales")
    ana = make_contact(do_not_call=True, phones=[MOBILE])
    page = client.get(_sms_url(ana)).get_data(as_text=True)
    assert "Do not call: this contact asked not to be called or texted" in page
    assert 'id="sms-form"' not in page and "tel:" not in page
    sent = {"csrf_token": csrf_from(page), "phone_id": ana.phones[0].id, "body": "Hi"}
    response = client.post(_sms_url(ana), data=sent)
    assert response.status_code == 200 and "Do not call" in response.get_data(as_text=True)
    assert twilio.received == [] and count(Interaction) == 0
