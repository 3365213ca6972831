"""Sessions in a real browser: "Keep me signed in" across a browser restart, changing one's
password on My profile (the other browser is signed out), and "Sign out everywhere" from the
user menu, at a desktop's and at a phone's size."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.widgets import snap, submit
from tests.conftest import TEST_PASSWORD

pytestmark = pytest.mark.browser

NEW_PASSWORD = "purple-otter-sings-loudly"
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


def _sign_in(page: Page, email: str, *, remember: bool = False, password=TEST_PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    if remember:
        page.get_by_label("Keep me signed in").check()
    page.get_by_label("Password").press("Enter")
    expect(page).to_have_url(re.compile(r"/admin/$"))


def _open_user_menu(page: Page) -> None:
    # The menus open by Bootstrap's script: a click before the page has loaded it does
    # nothing (the page's address changes before its scripts have run).
    page.wait_for_load_state("load")
    toggler = page.locator(".navbar-toggler")
    if toggler.is_visible():  # the phone's collapsed menu
        toggler.click()
        expect(page.locator(".navbar-collapse.show")).to_have_count(1)
    page.locator("#crm-user-menu").click()
    expect(page.locator("[aria-labelledby='crm-user-menu']")).to_be_visible()


def _signed_out(page: Page) -> None:
    page.goto("/admin/contact/")
    expect(page).to_have_url(re.compile(r"/login\?next="))


def test_keep_me_signed_in_survives_a_browser_restart_until_signing_out(
    browser: Browser, live_server: str, make_user
) -> None:
    user = make_user("crm_sales")
    first = browser.new_context(base_url=live_server, viewport=DESKTOP)
    page = first.new_page()
    _sign_in(page, user.email, remember=True)
    # The browser is closed: its session cookie is gone, the remember cookie stays.
    kept = [c for c in first.cookies() if c["name"] == "crm_remember"]
    assert kept and kept[0]["httpOnly"] and kept[0]["expires"] > 0
    first.close()
    reopened = browser.new_context(base_url=live_server, viewport=DESKTOP)
    reopened.add_cookies(kept)
    page = reopened.new_page()
    page.goto("/admin/contact/")
    expect(page).to_have_url(re.compile(r"/admin/contact/"))
    expect(page.locator("#crm-user-menu")).to_contain_text(user.full_name)
    _open_user_menu(page)
    page.get_by_role("button", name="Sign out", exact=True).click()
    expect(page.locator(".alert")).to_contain_text("signed out")
    # The copy of the first cookie opens nothing any more.
    copy = browser.new_context(base_url=live_server, viewport=DESKTOP)
    copy.add_cookies(kept)
    _signed_out(copy.new_page())
    for context in (reopened, copy):
        context.close()


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_changing_my_password_signs_out_my_other_browser(
    browser: Browser, live_server: str, make_user, size: str
) -> None:
    user = make_user("crm_marketeer")
    viewport = DESKTOP if size == "desktop" else PHONE
    office = browser.new_context(base_url=live_server, viewport=viewport)
    home = browser.new_context(base_url=live_server, viewport=DESKTOP)
    page, other = office.new_page(), home.new_page()
    _sign_in(other, user.email)
    _sign_in(page, user.email)

    _open_user_menu(page)
    page.get_by_role("link", name="My profile and password").click()
    expect(page.get_by_role("heading", name="Change your password")).to_be_visible()
    sessions = page.locator("#sessions li")
    expect(sessions).to_have_count(2)
    expect(page.locator("#sessions")).to_contain_text("This browser")
    expect(page.locator("#sessions")).to_contain_text("Chrome on Linux")
    snap(page, f"profile-{size}")

    # A wrong current password: said on its field, nothing changes.
    page.get_by_label("Current password").fill("not-my-password")
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("The new password again").fill(NEW_PASSWORD)
    submit(page, "Change password")
    expect(page.locator(".invalid-feedback")).to_have_text("This is not your current password.")
    other.goto("/admin/contact/")
    expect(other).to_have_url(re.compile(r"/admin/contact/"))

    page.get_by_label("Current password").fill(TEST_PASSWORD)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("The new password again").fill(NEW_PASSWORD)
    page.get_by_label("The new password again").press("Enter")
    expect(page.locator(".alert-success")).to_contain_text("You were signed out everywhere else")
    expect(page.locator("#sessions li")).to_have_count(1)
    snap(page, f"profile-changed-{size}")
    _signed_out(other)
    _sign_in(other, user.email, password=NEW_PASSWORD)
    for context in (office, home):
        context.close()


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_sign_out_everywhere_from_the_user_menu_asks_first(
    browser: Browser, live_server: str, make_user, size: str
) -> None:
    user = make_user("crm_sales")
    viewport = DESKTOP if size == "desktop" else PHONE
    office = browser.new_context(base_url=live_server, viewport=viewport)
    home = browser.new_context(base_url=live_server, viewport=DESKTOP)
    page, other = office.new_page(), home.new_page()
    _sign_in(other, user.email, remember=True)
    _sign_in(page, user.email)

    questions: list[str] = []

    def answer(dialog) -> None:
        questions.append(dialog.message)
        # The first time the person thinks better of it; the second time they confirm.
        dialog.dismiss() if len(questions) == 1 else dialog.accept()

    page.on("dialog", answer)
    _open_user_menu(page)
    page.get_by_role("button", name="Sign out everywhere").click()
    assert questions == ["Sign out on every browser and device, this one included?"]
    page.goto("/admin/contact/")
    expect(page).to_have_url(re.compile(r"/admin/contact/"))  # dismissed: still signed in

    _open_user_menu(page)
    page.get_by_role("button", name="Sign out everywhere").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator(".alert")).to_contain_text("You were signed out everywhere (2 sessions)")
    snap(page, f"signed-out-everywhere-{size}")
    _signed_out(page)
    _signed_out(other)  # its remember cookie ended too
    for context in (office, home):
        context.close()
