"""Nothing that shows a secret or personal data may be kept by a browser or a proxy
(`Cache-Control: private, no-store`); the static files stay cacheable. Every admin page
and download is also checked as every role in tests/admin/test_role_gates.py."""

from __future__ import annotations

import re

from crm.extensions import db
from crm.services.contacts import logins
from crm.services.lists import consent
from crm.services.platform.api_tokens import create_token
from tests.conftest import csrf_from

NO_STORE = "private, no-store"


def test_the_new_api_token_page_is_never_stored(client, login_as):
    login_as("crm_manager")
    page = client.get("/admin/api-tokens/")
    assert page.headers["Cache-Control"] == NO_STORE
    made = client.post(
        "/admin/api-tokens/",
        data={"name": "Web shop", "csrf_token": csrf_from(page.get_data(as_text=True))},
    )
    shown = made.get_data(as_text=True)
    assert made.status_code == 200 and 'value="crm_' in shown and 'id="new-token-value"' in shown
    assert made.headers["Cache-Control"] == NO_STORE


def test_sign_in_and_set_password_pages_are_never_stored(client, make_user):
    user = make_user("crm_sales")
    for response in (
        client.get("/login"),
        client.post("/login", data={"email": user.email, "password": "wrong"}),
        client.get(f"/set-password/{logins.password_token(user)}"),
        client.get("/set-password/not-a-link"),  # 410, the link refused
        client.get("/logout"),
    ):
        assert response.headers["Cache-Control"] == NO_STORE, response.request.path


def test_api_answers_and_unsubscribe_pages_are_never_stored(client, make_user, make_contact):
    ana = make_contact(email="ana@example.com", email_marketing=True)
    _, token = create_token(make_user("crm_manager"), "Shop")
    db.session.commit()
    bearer = {"Authorization": f"Bearer {token}"}
    for response in (
        client.get("/api/v1/contacts", headers=bearer),
        client.get(f"/api/v1/contacts/{ana.id}", headers=bearer),
        client.get("/api/v1/contacts"),  # 401 without a token
        client.get(re.sub(r"^https?://[^/]+", "", consent.unsubscribe_link(ana))),
        client.get("/no-such-page"),
    ):
        assert response.headers["Cache-Control"] == NO_STORE, response.request.path


def test_static_files_stay_cacheable(client):
    for url in (
        "/static/crm.css",
        "/admin/static/bootstrap/bootstrap4/css/bootstrap.min.css",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "no-store" not in response.headers.get("Cache-Control", ""), url
        assert "private" not in response.headers.get("Cache-Control", ""), url
        response.close()


def test_a_view_that_forbids_storing_keeps_its_own_header(app, client):
    @app.get("/own-cache-header")
    def own_header():
        return "secret", 200, {"Cache-Control": "no-store, max-age=0"}

    @app.get("/weak-cache-header")
    def weak_header():
        return "personal", 200, {"Cache-Control": "public, max-age=3600"}

    assert client.get("/own-cache-header").headers["Cache-Control"] == "no-store, max-age=0"
    assert client.get("/weak-cache-header").headers["Cache-Control"] == NO_STORE
