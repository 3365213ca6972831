"""Security headers, the Content-Security-Policy and Secure cookies over HTTPS."""

from __future__ import annotations

import re

from crm import create_app
from crm.security import _allowed_handler_hashes, _sha256
from tests.conftest import TEST_PASSWORD, csrf_from, login


def _policy(response) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    return {part.split(" ", 1)[0]: part for part in policy.split("; ")}


def test_every_page_carries_the_security_headers(client, login_as):
    for url in ("/login", "/healthz", "/no-such-page"):
        response = client.get(url)
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "same-origin"
        policy = _policy(response)
        assert policy["frame-ancestors"] == "frame-ancestors 'none'"
        assert policy["object-src"] == "object-src 'none'"
        assert "'unsafe-inline'" not in policy["script-src"]
    login_as("crm_manager")
    listing = client.get("/admin/contact/")
    scripts = _policy(listing)["script-src"]
    nonce = re.search(r"'nonce-([^']+)'", scripts).group(1)
    assert f'nonce="{nonce}"' in listing.get_data(as_text=True)  # on Flask-Admin's scripts
    again = _policy(client.get("/admin/contact/"))["script-src"]
    assert re.search(r"'nonce-([^']+)'", again).group(1) != nonce  # a new one each time
    assert "'unsafe-hashes'" in scripts  # the "With selected" actions' handlers


def test_only_flask_admins_known_handlers_are_allowed_by_hash():
    page = (
        '<a onclick="return modelActions.execute(&#39;select&#39;);">'
        '<a onclick="return false;">'
        '<a onclick="alert(document.cookie)">'
        '<a onclick="return modelActions.execute(&#39;x&#39;+alert(1)+&#39;&#39;);">'
        '<a onmouseover="return faHelpers.safeConfirm(&#39;Are you sure?&#39;);fetch(1)">'
    )
    assert _allowed_handler_hashes(page) == sorted(
        [_sha256("return modelActions.execute('select');"), _sha256("return false;")]
    )


def test_cookies_are_secure_over_https_and_hsts_is_sent(client, make_user):
    user = make_user("crm_sales")
    page = client.get("/login", base_url="https://crm.example")
    assert page.headers["Strict-Transport-Security"].startswith("max-age=")
    response = client.post(
        "/login",
        base_url="https://crm.example",
        headers={"Referer": "https://crm.example/login"},  # checked over HTTPS (CSRF)
        data={
            "email": user.email,
            "password": TEST_PASSWORD,
            "remember": "y",
            "csrf_token": csrf_from(page.get_data(as_text=True)),
        },
    )
    assert response.status_code == 302
    cookies = response.headers.getlist("Set-Cookie")
    assert cookies and all("; Secure" in c for c in cookies)
    assert all("HttpOnly" in c and "SameSite=Lax" in c for c in cookies)
    plain = login(client, user.email)  # over plain HTTP (development): not Secure
    assert "Strict-Transport-Security" not in plain.headers


def test_behind_a_proxy_the_forwarded_scheme_counts_only_when_trusted(tmp_path, database_url):
    for trusted in (False, True):
        app = create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "x",
                "DATABASE_URL": database_url,
                "INSTANCE_PATH": str(tmp_path),
                "CRM_PROXY_FIX": trusted,
            }
        )
        response = app.test_client().get("/login", headers={"X-Forwarded-Proto": "https"})
        assert ("Strict-Transport-Security" in response.headers) is trusted


def test_a_request_too_large_gets_a_readable_page(app, client):
    """Any request over MAX_CONTENT_LENGTH (where one is set) answers the app's 413 page,
    not Werkzeug's."""
    app.config["MAX_CONTENT_LENGTH"] = 1024
    response = client.post("/login", data={"email": "x" * 4096, "password": "y"})
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "Too large" in page and "Nothing was saved." in page


def test_a_map_tile_server_is_allowed_for_images_only_when_configured(app, client):
    assert _policy(client.get("/login"))["img-src"] == "img-src 'self' data:"
    app.config["CRM_MAP_TILES_URL"] = "https://{s}.tile.example.org/{z}/{x}/{y}.png"
    assert _policy(client.get("/login"))["img-src"] == (
        "img-src 'self' data: https://*.tile.example.org"
    )
    app.config["CRM_MAP_TILES_URL"] = "javascript:alert(1)"  # not a server: nothing added
    assert _policy(client.get("/login"))["img-src"] == "img-src 'self' data:"
