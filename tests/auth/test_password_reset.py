""" "Forgot password?": the same answer for every email, a one-time link mailed (through a
real local SMTP server) to active users only, expiry, throttling, CSRF, the history, and the
new password ending the user's other sessions."""

from __future__ import annotations

import re
import socket
import threading
import time

import pytest
from sqlalchemy import select, update

from crm.extensions import db
from crm.models import AuditEntry, LoginAttempt, User
from crm.services.platform import password_links
from crm.services.platform.password_links import (
    MAX_RESETS_PER_ADDRESS,
    MAX_RESETS_PER_EMAIL,
    RESET,
    request_password_reset,
)
from crm.services.platform.sign_in import MAX_FAILURES_PER_EMAIL, WINDOW
from tests.conftest import TEST_PASSWORD, csrf_from, login

NEW_PASSWORD = "lantern-orbit-maple-91"
SENT = "If an account exists for that address, we have sent a link to choose a new password."
TOO_MANY = "Too many requests for a new password. Try again in 15 minute(s)."


def ask(client, email: str, **kwargs):
    """Open the sign-in page, follow "Forgot password?" and send `email`."""
    login_page = client.get("/login").get_data(as_text=True)
    href = re.search(r'href="([^"]+)" id="forgot-password">Forgot password\?<', login_page)
    assert href, "no Forgot password? link on the sign-in page"
    form = client.get(href.group(1))
    assert form.status_code == 200
    return client.post(
        href.group(1),
        data={"email": email, "csrf_token": csrf_from(form.get_data(as_text=True))},
        **kwargs,
    )


def mails_to(smtp_server, email: str, wait: float = 10.0) -> list:
    """The messages the SMTP server has received for `email`, waiting up to `wait` seconds
    for the first (the mail leaves after the answer, from a thread of its own)."""
    deadline = time.monotonic() + wait
    while True:
        found = [m for _, rcpt, m in smtp_server.messages if email in rcpt]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def wait_for_mail_threads() -> None:
    for thread in threading.enumerate():
        if thread.name == "crm-reset-mail":
            thread.join(timeout=30)


def link_in(message) -> str:
    match = re.search(r"https?://[^/\s]+(/set-password/\S+)", message.get_content())
    assert match, message.get_content()
    return match.group(1)


def set_new_password(client, url: str, password: str = NEW_PASSWORD):
    page = client.get(url)
    assert page.status_code == 200, page.get_data(as_text=True)
    token = csrf_from(page.get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, "password": password, "again": password})


def test_a_known_user_gets_a_link_that_sets_the_password_once(client, make_user, smtp_server):
    user = make_user("crm_sales", email="ana@example.com")
    answer = ask(client, "Ana@Example.com ")
    assert answer.status_code == 302 and answer.headers["Location"] == "/login"
    assert SENT in client.get("/login").get_data(as_text=True)
    [message] = mails_to(smtp_server, "ana@example.com")
    assert message["Subject"] == "A new password for Contacts CRM"
    assert "works once, for 2 hours" in message.get_content()
    url = link_in(message)

    page = client.get(url)
    assert "ana@example.com" in page.get_data(as_text=True)
    done = set_new_password(client, url)
    assert done.status_code == 302 and done.headers["Location"] == "/login"
    # The link is used up: the same page refuses it and changes nothing.
    again = client.get(url)
    assert again.status_code == 410 and "used already" in again.get_data(as_text=True)
    assert "Forgot password?" in again.get_data(as_text=True)
    assert login(client, user.email, TEST_PASSWORD).status_code == 401
    assert login(client, user.email, NEW_PASSWORD).status_code == 302
    summary = db.session.scalar(
        select(AuditEntry.summary).where(AuditEntry.action == "set_password")
    )
    assert summary == "Password set by ana@example.com on a password reset link"


@pytest.mark.parametrize("case", ["unknown", "inactive"])
def test_unknown_and_inactive_emails_get_the_same_answer_and_no_mail(
    client, app, make_user, smtp_server, case
):
    known = make_user("crm_sales", email="known@example.com")
    other = make_user("crm_sales", email="off@example.com", active=(case != "inactive"))
    email = "nobody@example.com" if case == "unknown" else other.email

    def answer_to(address: str) -> tuple:
        fresh = app.test_client()
        response = ask(fresh, address)
        page = fresh.get("/login").get_data(as_text=True)
        return (
            response.status_code,
            response.headers.get("Location"),
            re.sub(r'value="[^"]+"', "", page),
        )  # the CSRF token differs, nothing else may

    assert answer_to(email) == answer_to(known.email)
    assert mails_to(smtp_server, known.email)
    wait_for_mail_threads()
    assert [rcpt for _, rcpt, _ in smtp_server.messages] == [[known.email]]
    # The service prepares no mail for them.
    result = request_password_reset(email, "10.0.0.9")
    assert result.mail is None and not result.refused and SENT in result.message


def test_a_reset_link_expires_after_crm_password_reset_hours(
    client, app, make_user, smtp_server, monkeypatch
):
    user = make_user("crm_sales")
    ask(client, user.email)
    url = link_in(mails_to(smtp_server, user.email)[0])
    before = user.password_hash
    later = time.time() + 3 * 3600
    monkeypatch.setattr(time, "time", lambda: later)
    expired = client.get(url)
    text = expired.get_data(as_text=True)
    assert expired.status_code == 410
    assert "This link has expired: ask for a new one with “Forgot password?”" in text
    token = url.rsplit("/", 1)[1]
    csrf = csrf_from(client.get("/login").get_data(as_text=True))
    refused = client.post(
        url, data={"password": NEW_PASSWORD, "again": NEW_PASSWORD, "csrf_token": csrf}
    )
    assert refused.status_code == 410
    db.session.refresh(user)
    assert user.password_hash == before
    # The setting is honoured: with 4 hours the same link still works 3 hours on.
    app.config["CRM_PASSWORD_RESET_HOURS"] = 4
    assert password_links.user_for_password_token(token).id == user.id
    assert client.get(url).status_code == 200


def test_altered_and_foreign_tokens_are_refused(client, app, make_user):
    user = make_user("crm_sales")
    token = password_links.password_token(user, RESET)
    for bad in (token[:-3] + "abc", "not-a-link", token.replace(".", "", 1)):
        page = client.get(f"/set-password/{bad}")
        assert page.status_code == 410
        assert "This link is not valid" in page.get_data(as_text=True)
    # A well signed link of a purpose the app does not know opens nothing.
    odd = password_links._serializer().dumps({"user": user.id, "hash": "x", "for": "other"})
    assert client.get(f"/set-password/{odd}").status_code == 410


def test_an_earlier_link_stops_working_once_a_later_one_is_used(client, make_user, smtp_server):
    user = make_user("crm_sales")
    ask(client, user.email)
    first = link_in(mails_to(smtp_server, user.email)[0])
    ask(client, user.email)
    deadline = time.monotonic() + 10
    while len(mails_to(smtp_server, user.email)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    second = link_in(mails_to(smtp_server, user.email)[1])
    assert set_new_password(client, second).status_code == 302
    assert client.get(first).status_code == 410


def test_a_link_of_a_user_deactivated_since_opens_nothing(client, make_user):
    user = make_user("crm_sales")
    token = password_links.password_token(user, RESET)
    user.active = False
    db.session.commit()
    assert client.get(f"/set-password/{token}").status_code == 410


def test_the_new_password_signs_out_the_users_other_browsers(app, make_user, smtp_server):
    user = make_user("crm_sales")
    elsewhere = app.test_client()
    assert login(elsewhere, user.email).status_code == 302
    assert elsewhere.get("/admin/contact/").status_code == 200
    mine = app.test_client()
    ask(mine, user.email)
    assert set_new_password(mine, link_in(mails_to(smtp_server, user.email)[0])).status_code == 302
    gone = elsewhere.get("/admin/contact/")
    assert gone.status_code == 302 and gone.headers["Location"].startswith("/login")


def test_the_form_needs_its_csrf_token(client, make_user, smtp_server):
    user = make_user("crm_sales")
    refused = client.post("/forgot-password", data={"email": user.email})
    assert refused.status_code == 400
    assert db.session.scalar(select(LoginAttempt.id)) is None
    time.sleep(0.3)
    assert smtp_server.messages == []


def test_an_empty_email_is_asked_again(client):
    page = client.get("/forgot-password").get_data(as_text=True)
    empty = client.post("/forgot-password", data={"email": "", "csrf_token": csrf_from(page)})
    assert empty.status_code == 422 and "This field is required." in empty.get_data(as_text=True)


def test_requests_are_throttled_per_email_the_same_for_unknown_emails(app, client, make_user):
    user = make_user("crm_sales")
    for email in (user.email, "nobody@example.com"):
        for _ in range(MAX_RESETS_PER_EMAIL):
            assert ask(client, email).status_code == 302
        refused = ask(client, email)
        assert refused.status_code == 429 and TOO_MANY in refused.get_data(as_text=True)
    refusals = db.session.scalars(
        select(AuditEntry.user_email).where(AuditEntry.action == "reset_refused")
    ).all()
    assert refusals == [user.email, "nobody@example.com"]
    # The requests do not lock signing in, nor do failed sign-ins block a reset.
    assert login(app.test_client(), user.email).status_code == 302
    other = make_user("crm_sales")
    for _ in range(MAX_FAILURES_PER_EMAIL):
        login(app.test_client(), other.email, "wrong password")
    assert request_password_reset(other.email, "10.0.0.2").mail is not None
    # When the window has passed, asking works again.
    db.session.execute(update(LoginAttempt).values(at=LoginAttempt.at - WINDOW))
    db.session.commit()
    assert ask(client, user.email).status_code == 302


def test_requests_are_throttled_per_client_address(app, make_user):
    user = make_user("crm_sales")
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    for index in range(MAX_RESETS_PER_ADDRESS):
        assert ask(client, f"guess{index}@example.com").status_code == 302
    assert ask(client, user.email).status_code == 429
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    assert ask(elsewhere, user.email).status_code == 302


def test_every_request_is_in_the_history(make_user):
    user = make_user("crm_sales")
    inactive = make_user("crm_sales", active=False)
    for email in (user.email, "nobody@example.com", inactive.email):
        request_password_reset(email, "10.0.0.1")
    db.session.commit()
    rows = db.session.execute(
        select(AuditEntry.action, AuditEntry.entity_id, AuditEntry.user_email, AuditEntry.summary)
        .where(AuditEntry.action.like("password_reset%"))
        .order_by(AuditEntry.id)
    ).all()
    assert [(r.action, r.entity_id, r.user_email) for r in rows] == [
        ("password_reset", user.id, user.email),
        ("password_reset", None, "nobody@example.com"),
        ("password_reset", inactive.id, inactive.email),
    ]
    assert rows[0].summary == f"Password reset link mailed ({user.email} from 10.0.0.1)"
    assert rows[1].summary.startswith("Password reset asked for, no mail")


def test_a_slow_or_failing_mail_server_changes_nothing_in_the_answer(
    app, client, make_user, caplog
):
    user = make_user("crm_sales")
    # A server that accepts the connection and never greets: the mail waits for its timeout.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    app.config.update(CRM_MAIL_BACKEND="smtp", CRM_SMTP_HOST="127.0.0.1",
                      CRM_SMTP_PORT=silent.getsockname()[1], CRM_SMTP_TIMEOUT=2)  # fmt: skip
    try:
        started = time.monotonic()
        answer = ask(client, user.email)
        took = time.monotonic() - started
        assert answer.status_code == 302 and took < 1.5
        wait_for_mail_threads()
    finally:
        silent.close()
    assert f"Password reset mail to {user.email} not sent" in caplog.text
    assert db.session.scalar(select(User.id).where(User.id == user.id)) == user.id
