"""Generate login: a user without roles for a contact, its one-time password link (shown to
the admin, mailed through a real local SMTP server), and the person signing in."""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import select

from crm.errors import DomainError, PermissionDenied, ValidationFailed
from crm.extensions import db
from crm.models import AuditEntry, ContactLogin, User
from crm.services.contacts import logins
from tests.conftest import csrf_from, login

PASSWORD = "lantern-orbit-maple-91"


def path_of(link: str) -> str:
    return re.sub(r"^https?://[^/]+", "", link)


def test_a_login_is_a_user_without_roles_linked_to_the_contact(admin_user, make_contact):
    ana = make_contact(email="ana@example.com")
    made = logins.generate_login(admin_user, ana, "Ana@Example.com")
    db.session.commit()
    assert (made.user.email, made.user.roles, made.user.active) == ("ana@example.com", [], True)
    assert made.user.full_name == "Ana Smith" and not made.mailed  # the console backend
    assert made.link.startswith("http://localhost/set-password/")
    assert db.session.get(ContactLogin, ana.id).user_id == made.user.id
    assert logins.login_of(ana.id) == made.user
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "generate_login"))
    assert entry.contact_id == ana.id and entry.user_id == admin_user.id
    with pytest.raises(DomainError, match="has a login already: ana@example.com"):
        logins.generate_login(admin_user, ana, "other@example.com")


def test_generate_login_refusals(admin_user, make_contact, make_user):
    bo = make_contact(first_name="Bo")
    make_user("crm_sales", email="taken@example.com")
    for email, message in (
        ("taken@example.com", "A user with the email taken@example.com exists already."),
        ("nope", None),
        ("", "Give the email the person will sign in with."),
    ):
        with pytest.raises(ValidationFailed) as refused:
            logins.generate_login(admin_user, bo, email)
        assert list(refused.value.errors) == ["email"]
        if message:
            assert refused.value.errors["email"] == [message]
    with pytest.raises(PermissionDenied):
        logins.generate_login(make_user("crm_sales"), bo, "bo@example.com")


def test_the_link_sets_the_password_once_and_the_person_signs_in_seeing_nothing(
    client, admin_user, make_contact
):
    made = logins.generate_login(admin_user, make_contact(), "ana@example.com")
    db.session.commit()
    url = path_of(made.link)
    page = client.get(url)
    assert page.status_code == 200 and "ana@example.com" in page.get_data(as_text=True)
    token = csrf_from(page.get_data(as_text=True))
    weak = client.post(url, data={"csrf_token": token, "password": "password", "again": "password"})
    assert weak.status_code == 422
    assert "at least 10 characters" in weak.get_data(as_text=True)
    differ = client.post(url, data={"csrf_token": token, "password": PASSWORD, "again": "x"})
    assert "The two passwords differ." in differ.get_data(as_text=True)
    done = client.post(url, data={"csrf_token": token, "password": PASSWORD, "again": PASSWORD})
    assert done.status_code == 302 and done.headers["Location"] == "/login"
    again = client.get(url)
    assert again.status_code == 410 and "used already" in again.get_data(as_text=True)
    assert login(client, "ana@example.com", PASSWORD).status_code == 302
    assert client.get("/admin/contact/").status_code == 403  # no role: nothing to see
    assert client.get("/admin/lead/").status_code == 403


def test_an_expired_or_altered_link_changes_nothing(client, admin_user, make_contact, monkeypatch):
    made = logins.generate_login(admin_user, make_contact(), "ana@example.com")
    db.session.commit()
    before = made.user.password_hash
    url = path_of(made.link)
    assert client.get(url[:-3] + "abc").status_code == 410
    later = time.time() + 73 * 3600
    monkeypatch.setattr(time, "time", lambda: later)
    expired = client.get(url)
    assert expired.status_code == 410 and "expired" in expired.get_data(as_text=True)
    db.session.refresh(made.user)
    assert made.user.password_hash == before


def test_the_link_is_mailed_through_the_smtp_server(admin_user, make_contact, smtp_server):
    made = logins.generate_login(admin_user, make_contact(), "ana@example.com")
    db.session.commit()
    assert made.mailed and made.mail_error is None
    [(sender, recipients, message)] = smtp_server.messages
    assert (sender, recipients) == ("crm@localhost", ["ana@example.com"])
    assert message["Subject"] == "Your login to Contacts CRM"
    assert made.link in message.get_content()


def test_a_mail_server_that_is_down_leaves_the_link_to_give_by_hand(app, admin_user, make_contact):
    app.config.update(CRM_MAIL_BACKEND="smtp", CRM_SMTP_HOST="127.0.0.1", CRM_SMTP_PORT=9,
                      CRM_SMTP_TIMEOUT=2)  # fmt: skip
    made = logins.generate_login(admin_user, make_contact(), "ana@example.com")
    db.session.commit()
    assert not made.mailed and made.mail_error.startswith("The mail could not be sent:")
    assert db.session.scalar(select(User).where(User.email == "ana@example.com")) is not None


def test_generate_login_from_the_contacts_page(client, login_as, make_contact):
    login_as("crm_manager")
    ana = make_contact(email="ana@example.com")
    page = client.get(f"/admin/contact/details/?id={ana.id}").get_data(as_text=True)
    assert 'id="generate-login-submit"' in page and 'value="ana@example.com"' in page
    done = client.post(
        f"/admin/contact-lifecycle/{ana.id}/login/",
        data={"csrf_token": csrf_from(page), "email": "ana@example.com"}, follow_redirects=True,
    )  # fmt: skip
    html = done.get_data(as_text=True)
    assert "Login ana@example.com made, with no roles; give the person this link" in html
    assert "/set-password/" in html and 'id="contact-login"' in html
