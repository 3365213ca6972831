"""Browser fixtures: the test app served by a real server thread, and Debian's chromium.

Every test gets its own migrated SQLite file (the `app` fixture of tests/conftest.py);
`live_server` serves that app on 127.0.0.1 and a free port until the test ends. CSRF stays
on: the browser sends the tokens the pages carry, as a user's browser would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from crm.extensions import db
from tests.conftest import TEST_PASSWORD
from tests.live_server import served

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Debian's chromium (no `playwright install` here), headless."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (see .ci/run)")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": CHROMIUM_ARGS,
    }


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The test app served on 127.0.0.1 (a free port) from a thread; yields its base URL.

    An exception in a request (a 500 page in the browser) fails the test at teardown even
    when the test's own checks did not notice it.
    """
    assert app.config.get("WTF_CSRF_ENABLED", True), "browser tests run with CSRF on"
    with served(app) as base:
        yield base


@pytest.fixture
def browser_context_args(browser_context_args: dict[str, Any], live_server: str) -> dict[str, Any]:
    """Every page of the test talks to this test's server: page.goto("/login") works."""
    return {
        **browser_context_args,
        "base_url": live_server,
        "viewport": {"width": 1280, "height": 900},
    }


@pytest.fixture(autouse=True)
def _expect_timeout() -> None:
    # Playwright's 5 s default is short for a busy CI machine; failures still show fast
    # enough, and passing tests never wait for it.
    expect.set_options(timeout=10_000)


@pytest.fixture
def sign_in(live_server: str) -> Callable[..., None]:
    """sign_in(page, email): signs in through /login and waits for the dashboard."""

    def do(page: Page, email: str, password: str = TEST_PASSWORD) -> None:
        page.goto("/login")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(f"{live_server}/admin/")
        expect(page.locator("#crm-user-menu")).to_be_visible()

    return do


@pytest.fixture
def fresh_db(app: Flask) -> Callable[[], Any]:
    """fresh_db() -> the test's db.session, emptied, to read what the server has saved.

    The server answers from its own threads and sessions; the test's session may still
    hold rows (and a transaction) from before the browser's requests.
    """

    def fresh():
        db.session.rollback()
        db.session.expire_all()
        return db.session

    return fresh


@pytest.fixture(autouse=True)
def _no_content_security_policy_violations(page: Page) -> Iterator[None]:
    """Every page of every browser test runs under the app's Content-Security-Policy: a
    script, handler or style it blocks fails the test (the page would be broken for users)."""
    blocked: list[str] = []

    def console(message: Any) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            blocked.append(message.text)

    page.on("console", console)
    yield
    assert not blocked, "\n".join(blocked)
