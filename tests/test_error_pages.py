"""Every HTTP error answers with the app's own page (templates/errors/error.html, our title
and a sentence a user understands), or JSON under /api/, never Werkzeug's plain page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask, abort, template_rendered

# Werkzeug's own error page: its unquoted html tag and its descriptions.
WERKZEUG_WORDS = (
    "<html lang=en>",
    "The server could not",
    "The browser (or proxy)",
    "requested URL",
)


@pytest.fixture
def rendered(app: Flask) -> Iterator[list[str]]:
    """The names of the templates rendered during the test."""
    names: list[str] = []

    def record(_sender: Flask, template, context, **_extra) -> None:
        names.append(template.name)

    template_rendered.connect(record, app)
    yield names
    template_rendered.disconnect(record, app)


def assert_our_page(response, code: int, title: str, rendered: list[str]) -> str:
    page = response.get_data(as_text=True)
    assert response.status_code == code
    assert response.mimetype == "text/html"
    assert rendered[-1] == "errors/error.html", rendered
    assert f"{code} · {title}" in page and "Back to the CRM" in page, page[:500]
    assert not any(words in page for words in WERKZEUG_WORDS), page[:500]
    return page


STATUSES = {
    401: "Sign-in needed",
    408: "Too slow",
    409: "Changed meanwhile",
    410: "No longer available",
    415: "Unsupported file type",
    422: "Could not be saved",
    429: "Too many requests",
    501: "Not available",
    503: "Temporarily unavailable",
    418: "I&#39;m a teapot",  # a status without our words: its standard name
}


@pytest.fixture
def aborting(app: Flask) -> Flask:
    """Routes that answer any status, as a page and under /api/."""

    def answer(code: int):
        if code == 429:
            abort(429, retry_after=30)
        abort(code)

    app.add_url_rule("/status/<int:code>", "status_page", answer)
    app.add_url_rule("/api/v1/status/<int:code>", "status_api", answer)

    def fail():
        raise RuntimeError("a bug")

    app.add_url_rule("/fail", "fail", fail)
    app.add_url_rule("/api/v1/fail", "fail_api", fail)
    return app


@pytest.mark.parametrize("code", sorted(STATUSES))
def test_every_status_gets_our_page_and_json_under_the_api(client, aborting, rendered, code):
    assert_our_page(client.get(f"/status/{code}"), code, STATUSES[code], rendered)
    answer = client.get(f"/api/v1/status/{code}")
    assert answer.status_code == code and answer.mimetype == "application/json"
    assert answer.get_json()["error"].startswith(STATUSES[code].replace("&#39;", "'"))
    if code == 429:
        assert answer.headers["Retry-After"] == "30"


def test_the_apps_routes_answer_their_errors_with_our_pages(
    app, client, login_as, aborting, rendered
):
    assert_our_page(client.get("/no-such-page"), 404, "Not found", rendered)
    app.config["MAX_CONTENT_LENGTH"] = 1024
    too_large = client.post("/login", data={"email": "x" * 4096, "password": "y"})
    assert "Nothing was saved." in assert_our_page(too_large, 413, "Too large", rendered)
    app.config["MAX_CONTENT_LENGTH"] = None
    expired = client.post("/login", data={"email": "a@example.com", "password": "x"})
    assert_our_page(expired, 400, "The form expired", rendered)  # no CSRF token
    moved = client.get("/admin")  # Werkzeug's redirect to the address with a slash stays
    assert moved.status_code == 308 and moved.headers["Location"].endswith("/admin/")

    # A used or altered set-password link: the page itself says why, in our layout.
    link = client.get("/set-password/not-a-link")
    assert link.status_code == 410 and rendered[-1] == "auth/set_password.html"
    assert not any(words in link.get_data(as_text=True) for words in WERKZEUG_WORDS)

    login_as("crm_manager")
    wrong = client.get("/admin/marketing-lists/recipients.csv?id=1")  # a POST-only download
    assert_our_page(wrong, 405, "Not allowed", rendered)
    assert "POST" in wrong.headers["Allow"]  # the header the status needs is kept

    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production
    failed = assert_our_page(client.get("/fail"), 500, "Something went wrong", rendered)
    assert "a bug" not in failed and "Traceback" not in failed
    answer = client.get("/api/v1/fail")
    assert answer.status_code == 500
    assert answer.get_json() == {
        "error": "Something went wrong: The error was logged. Nothing was saved."
    }
    for response, code in (
        (client.get("/api/v1/no-such-thing"), 404),
        (client.delete("/api/v1/contacts"), 405),
    ):
        assert response.status_code == code and response.mimetype == "application/json"
        assert response.get_json()["error"].startswith("Not ")
