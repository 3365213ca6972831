"""Marketing > Automations in a real browser, as a marketeer sets up birthday greetings: on,
a subject and a message with merge fields, a misspelt merge field shown on the message with
its line, a preview, saved, and shown again after a reload; on a desktop and on a phone.
And "Email me my tasks every morning" on My profile."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from crm.models import Automation, AutomationKind, User
from tests.browser.widgets import no_sideways_scroll, snap

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


def _open_automations(page: Page) -> None:
    """Marketing > Automations in the navigation bar (behind the phone's menu button)."""
    page.wait_for_load_state("load")  # Bootstrap's dropdown script must be running
    toggler = page.locator(".navbar-toggler")
    if toggler.is_visible():
        toggler.click()
        expect(page.locator(".navbar-collapse.show")).to_have_count(1)
    navigation = page.get_by_role("navigation")
    item = navigation.locator(".dropdown-menu a[href$='/admin/automations/']")
    toggle = navigation.locator(".dropdown-toggle", has_text="Marketing").first
    for _attempt in range(3):
        toggle.click()
        try:
            expect(item).to_be_visible(timeout=2000)
            break
        except AssertionError:
            continue
    item.click()
    expect(page).to_have_url(re.compile(r"/admin/automations/"))


def _press(page: Page, section: str, button: str) -> None:
    """Click a button of one section's form and wait for the answer (see widgets.submit)."""
    page.evaluate("document.body.dataset.crmStale = '1'")
    page.locator(f"#{section}").get_by_role("button", name=button, exact=True).click()
    expect(page.locator("body[data-crm-stale]")).to_have_count(0)
    page.wait_for_load_state()


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_marketeer_sets_up_birthday_greetings(page: Page, make_user, sign_in, fresh_db, size):
    user = make_user("crm_marketeer")
    sign_in(page, user.email)
    page.set_viewport_size(size)
    _open_automations(page)
    greetings = page.locator("#greetings")
    expect(greetings.get_by_role("heading", name="Birthday greetings")).to_be_visible()
    no_sideways_scroll(page)

    greetings.get_by_label("Send birthday greetings").check()
    subject = greetings.get_by_label("Subject")
    subject.fill("")
    subject.press_sequentially("Happy birthday, {{ first_name }}!")
    message = greetings.get_by_label("Message")
    message.fill("")
    message.press_sequentially("Dear {{ first_name }},\nAll the best, {{ frist_name }}.\n")
    greetings.get_by_label("Time of day").fill("10:30")
    _press(page, "greetings", "Save")

    greetings = page.locator("#greetings")
    message = greetings.get_by_label("Message")
    expect(message).to_have_class(re.compile(r"\bis-invalid\b"))
    problem = greetings.locator("#greetings-body_text ~ .invalid-feedback")
    expect(problem).to_be_visible()
    expect(problem).to_contain_text("Line 2: there is no merge field {{ frist_name }}")
    expect(message).to_have_value("Dear {{ first_name }},\nAll the best, {{ frist_name }}.\n")
    expect(greetings.get_by_label("Send birthday greetings")).to_be_checked()
    no_sideways_scroll(page)
    snap(page, f"automations-error-{size['width']}")
    assert fresh_db().scalar(select(Automation)) is None  # nothing saved

    message.fill("Dear {{ first_name }},\n\nAll the best from **all of us**.\n")
    _press(page, "greetings", "Preview")
    preview = page.locator("#greeting-preview")
    expect(preview).to_contain_text("Preview for Ana Smith (a sample contact)")
    expect(preview.locator("#greeting-preview-subject")).to_have_text("Happy birthday, Ana!")
    expect(preview.locator("strong", has_text="all of us")).to_be_visible()
    no_sideways_scroll(page)
    snap(page, f"automations-preview-{size['width']}")

    _press(page, "greetings", "Save")
    expect(page.locator(".alert-success")).to_contain_text("Birthday greetings saved: on.")
    page.reload()
    greetings = page.locator("#greetings")
    expect(greetings.get_by_label("Send birthday greetings")).to_be_checked()
    expect(greetings.get_by_label("Subject")).to_have_value("Happy birthday, {{ first_name }}!")
    expect(greetings.get_by_label("Message")).to_have_value(
        "Dear {{ first_name }},\n\nAll the best from **all of us**."
    )
    expect(greetings.get_by_label("Time of day")).to_have_value("10:30")
    expect(greetings.get_by_label("Who gets it")).to_have_value("")
    row = fresh_db().scalars(select(Automation)).one()
    assert row.kind == AutomationKind.BIRTHDAY_GREETING and row.enabled
    no_sideways_scroll(page)


def test_a_user_switches_the_morning_email_off_on_my_profile(
    page: Page, make_user, sign_in, fresh_db
):
    user = make_user("crm_sales")
    sign_in(page, user.email)
    page.set_viewport_size(PHONE)
    page.goto("/admin/profile/")
    box = page.get_by_label("Email me my tasks every morning")
    expect(box).to_be_checked()
    box.uncheck()
    _press(page, "task-digest", "Save")
    expect(page.locator(".alert-success")).to_contain_text("You will no longer get your tasks")
    expect(page.get_by_label("Email me my tasks every morning")).not_to_be_checked()
    no_sideways_scroll(page)
    assert fresh_db().get(User, user.id).task_digest is False
