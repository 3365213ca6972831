""" "Forgot password?" in a real browser: a person asks for a link on the sign-in page, the
mail arrives at a local SMTP server, the person opens its link, chooses a new password and
signs in with it; at a desktop's and at a phone's size."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.widgets import no_sideways_scroll, snap, submit

pytestmark = pytest.mark.browser

NEW_PASSWORD = "purple-otter-sings-loudly"
SIZES = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}


def _mail_link(smtp_server, email: str) -> str:
    """The link of the first mail the server received for `email` (it leaves just after the
    page's answer, so it may take a moment)."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for _, recipients, message in smtp_server.messages:
            if email in recipients:
                match = re.search(r"https?://\S+/set-password/\S+", message.get_content())
                assert match, message.get_content()
                return match.group(0)
        time.sleep(0.1)
    raise AssertionError(f"no mail for {email}")


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_forgot_password_mails_a_link_that_sets_a_new_password(
    browser: Browser, live_server: str, make_user, smtp_server, size: str
) -> None:
    user = make_user("crm_sales", email=f"ana.{size}@example.com")
    context = browser.new_context(base_url=live_server, viewport=SIZES[size])
    page = context.new_page()

    page.goto("/login")
    page.get_by_role("link", name="Forgot password?").click()
    expect(page.get_by_role("heading", name="Forgot your password?")).to_be_visible()
    no_sideways_scroll(page)
    snap(page, f"forgot-password-{size}")
    page.get_by_label("Email").press_sequentially(user.email)
    submit(page, "Send me a link")
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator(".alert")).to_contain_text(
        "If an account exists for that address, we have sent a link to choose a new password."
    )
    snap(page, f"forgot-password-sent-{size}")

    link = _mail_link(smtp_server, user.email)
    assert link.startswith(live_server)
    page.goto(link)
    expect(page.locator("#set-password-form")).to_contain_text(user.email)
    no_sideways_scroll(page)
    page.get_by_label("New password").press_sequentially(NEW_PASSWORD)
    page.get_by_label("The same again").press_sequentially(NEW_PASSWORD)
    snap(page, f"reset-set-password-{size}")
    submit(page, "Set my password")
    expect(page.locator(".alert-success")).to_have_text("Your password is set: sign in with it.")

    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_label("Password").press("Enter")
    expect(page).to_have_url(re.compile(r"/admin/$"))
    expect(page.get_by_role("heading", name="Home")).to_be_visible()  # signed in

    # The link is used up: opened again, it says so.
    page.goto(link)
    expect(page.locator("#link-refused")).to_contain_text("used already")
    snap(page, f"reset-link-used-{size}")
    context.close()


def test_an_unknown_email_gets_the_same_answer_and_no_mail(
    browser: Browser, live_server: str, make_user, smtp_server
) -> None:
    make_user("crm_sales", email="known@example.com")
    page = browser.new_context(base_url=live_server, viewport=SIZES["desktop"]).new_page()
    page.goto("/forgot-password")
    page.get_by_label("Email").press_sequentially("nobody@example.com")
    page.get_by_label("Email").press("Enter")
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator(".alert")).to_contain_text("If an account exists for that address")
    time.sleep(0.5)
    assert smtp_server.messages == []
