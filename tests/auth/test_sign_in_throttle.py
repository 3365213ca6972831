"""Repeated failed sign-ins lock the email (and the client address) for a while, with the
same answer whether the account exists or not; every attempt is in the history."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from crm.extensions import db
from crm.models import AuditEntry, LoginAttempt
from crm.services.platform.sign_in import (
    MAX_FAILURES_PER_ADDRESS,
    MAX_FAILURES_PER_EMAIL,
    WRONG,
    sign_in,
)
from tests.conftest import TEST_PASSWORD, csrf_from

LOCKED = "Too many failed sign-ins. Try again in 15 minute(s)."


def attempt(email: str, password: str, address: str = "10.0.0.1"):
    result = sign_in(email, password, address)
    db.session.commit()
    return result


def test_five_failures_lock_the_email_even_for_the_right_password(make_user):
    user = make_user("crm_sales")
    for _ in range(MAX_FAILURES_PER_EMAIL):
        assert attempt(user.email, "wrong password").message == WRONG
    assert attempt(user.email, TEST_PASSWORD).message == LOCKED
    assert attempt(user.email.upper(), TEST_PASSWORD).message == LOCKED  # the same email
    # The same answer for an email nobody has: the lock says nothing about accounts.
    for _ in range(MAX_FAILURES_PER_EMAIL):
        assert attempt("nobody@example.com", "wrong password").message == WRONG
    assert attempt("nobody@example.com", "x").message == LOCKED
    # Others from the same address are not locked out.
    other = make_user("crm_sales")
    assert attempt(other.email, TEST_PASSWORD).user.id == other.id

    # When the window has passed, the right password works again.
    db.session.execute(update(LoginAttempt).values(at=LoginAttempt.at - timedelta(minutes=16)))
    db.session.commit()
    assert attempt(user.email, TEST_PASSWORD).user.id == user.id


def test_a_successful_sign_in_starts_the_count_again(make_user):
    user = make_user("crm_sales")
    for _round in range(2):
        for _ in range(MAX_FAILURES_PER_EMAIL - 1):
            assert attempt(user.email, "wrong password").user is None
        assert attempt(user.email, TEST_PASSWORD).user is not None


def test_many_failures_from_one_address_lock_that_address(make_user):
    user = make_user("crm_sales")
    for index in range(MAX_FAILURES_PER_ADDRESS):
        attempt(f"guess{index}@example.com", "wrong", address="203.0.113.9")
    assert attempt(user.email, TEST_PASSWORD, address="203.0.113.9").message == LOCKED
    assert attempt(user.email, TEST_PASSWORD, address="198.51.100.7").user.id == user.id


def test_every_attempt_is_in_the_history(make_user):
    user = make_user("crm_sales")
    attempt(user.email, "wrong password")
    attempt("nobody@example.com", "wrong password")
    attempt(user.email, TEST_PASSWORD)
    rows = db.session.execute(
        select(AuditEntry.action, AuditEntry.entity_id, AuditEntry.user_email, AuditEntry.changes)
        .where(AuditEntry.entity_type == "user", AuditEntry.action.like("login%"))
        .order_by(AuditEntry.id)
    ).all()
    assert [(r.action, r.entity_id, r.user_email) for r in rows] == [
        ("login_failed", user.id, user.email),
        ("login_failed", None, "nobody@example.com"),
        ("login", user.id, user.email),
    ]
    assert rows[0].changes == {"address": [None, "10.0.0.1"]}


def test_the_sign_in_page_says_so_and_keeps_the_account_closed(client, make_user):
    user = make_user("crm_sales")
    for _ in range(MAX_FAILURES_PER_EMAIL):
        page = client.get("/login")
        client.post(
            "/login",
            data={"email": user.email, "password": "nope", "csrf_token": csrf_from(page.text)},
        )
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"email": user.email, "password": TEST_PASSWORD, "csrf_token": csrf_from(page.text)},
    )
    assert response.status_code == 401
    assert LOCKED in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302  # not signed in
