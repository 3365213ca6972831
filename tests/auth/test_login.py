"""The login page: credentials, inactive users, safe `next`, logout, CSRF."""

from __future__ import annotations

import pytest

from tests.conftest import TEST_PASSWORD, csrf_from, login


def test_login_page_is_ours_and_carries_a_csrf_token(client):
    page = client.get("/login")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'name="email"' in html and 'name="password"' in html and 'name="remember"' in html
    assert csrf_from(html)


def test_admin_pages_send_signed_out_visitors_to_login(client):
    response = client.get("/admin/contact/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_right_credentials_sign_in_and_record_last_login(client, make_user):
    user = make_user("crm_sales")
    assert user.last_login_at is None
    response = login(client, user.email)
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/"
    assert client.get("/admin/contact/").status_code == 200
    from crm.extensions import db

    db.session.refresh(user)
    assert user.last_login_at is not None


@pytest.mark.parametrize("case", ["wrong_password", "unknown_email", "inactive"])
def test_failed_sign_in_says_the_same_for_every_cause(client, make_user, case):
    user = make_user("crm_sales", active=(case != "inactive"))
    email = "nobody@example.com" if case == "unknown_email" else user.email
    password = "not-the-password" if case == "wrong_password" else TEST_PASSWORD
    response = login(client, email, password)
    html = response.get_data(as_text=True)
    assert response.status_code == 401
    assert "Wrong email or password, or the account is disabled." in html
    assert client.get("/admin/contact/").status_code == 302  # still signed out


def test_email_is_matched_case_insensitively(client, make_user):
    user = make_user("crm_sales", email="Mixed.Case@Example.com")
    assert user.email == "mixed.case@example.com"
    assert login(client, "MIXED.case@example.COM").status_code == 302


def test_deactivated_user_is_signed_out_on_next_request(client, make_user):
    user = make_user("crm_sales")
    login(client, user.email)
    from crm.extensions import db

    user.active = False
    db.session.commit()
    assert client.get("/admin/contact/").status_code == 302


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("/admin/contact/?search=ith", "/admin/contact/?search=ith"),
        ("https://evil.example/phish", "/admin/"),
        ("//evil.example/phish", "/admin/"),
        ("/\\evil.example", "/admin/"),
        ("javascript:alert(1)", "/admin/"),
    ],
)
def test_next_redirects_only_to_local_paths(client, make_user, next_url, expected):
    from urllib.parse import quote

    user = make_user("crm_sales")
    response = login(client, user.email, next_url=quote(next_url, safe=""))
    assert response.status_code == 302
    assert response.headers["Location"] == expected


def test_login_without_csrf_token_is_refused(client, make_user):
    user = make_user("crm_sales")
    response = client.post("/login", data={"email": user.email, "password": TEST_PASSWORD})
    assert response.status_code == 400
    assert "Nothing was saved" in response.get_data(as_text=True)
    assert client.get("/admin/contact/").status_code == 302


def test_logout_needs_a_post_with_csrf(client, make_user):
    user = make_user("crm_sales")
    login(client, user.email)
    confirm = client.get("/logout")
    assert confirm.status_code == 200
    assert client.post("/logout").status_code == 400  # no token: still signed in
    assert client.get("/admin/contact/").status_code == 200
    token = csrf_from(confirm.get_data(as_text=True))
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302
    assert client.get("/admin/contact/").status_code == 302


def test_passwords_are_stored_hashed(make_user):
    user = make_user("crm_sales")
    assert TEST_PASSWORD not in user.password_hash
    assert user.password_hash.startswith(("scrypt:", "pbkdf2:"))


def test_health_check_answers_with_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
