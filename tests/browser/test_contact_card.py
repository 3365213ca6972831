"""The contact card in a real browser: its tabs, a private note, an interaction, a
connection, and a comment that reaches a colleague's open page without a reload."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from crm.models import Interaction, Note

pytestmark = pytest.mark.browser


def test_the_cards_tabs_and_a_comment_seen_at_once_by_a_colleague(
    page: Page, browser: Browser, make_user, make_contact, sign_in, fresh_db, live_server
) -> None:
    manager = make_user("crm_manager")
    ana = make_contact(manager, first_name="Ana", last_name="Smith", email="ana@example.com",
                       phones=[{"number": "+44 7400 123456"}])  # fmt: skip
    bob = make_contact(manager, first_name="Bob", last_name="Jones")
    sales = make_user("crm_sales")
    marketeer = make_user("crm_marketeer")
    sign_in(page, sales.email)
    page.goto(f"/admin/contact/details/?id={ana.id}")

    # The profile first, with the email to write to and the number to call.
    expect(page.locator("#tab-profile")).to_be_visible()
    expect(page.locator("#details-emails a.contact-email")).to_have_attribute(
        "href", f"/admin/contact-messages/{ana.id}/email/?to=ana@example.com"
    )
    expect(page.locator("#details-phones a.contact-call")).to_have_attribute(
        "href", "tel:+447400123456"
    )

    # History: the creation, with who made it.
    page.locator("#tab-history-link").click()
    expect(page.locator("#history-table")).to_contain_text("Created the contact Ana Smith")
    expect(page.locator("#history-table")).to_contain_text(manager.full_name)

    # A private note.
    page.locator("#tab-notes-link").click()
    page.locator("#note-form textarea").fill("Budget is 10k, keep it to yourself")
    page.locator("#note-private").check()
    page.locator("#note-submit").click()
    expect(page.locator(".alert-success")).to_contain_text("only you see it")
    expect(page.locator("#notes-list")).to_contain_text("Budget is 10k")
    expect(page.locator("#tab-notes")).to_be_visible()

    # An interaction.
    page.locator("#tab-interactions-link").click()
    page.locator("#new-interaction").click()
    page.locator("#interaction-medium").select_option("call")
    page.locator("#interaction-direction").select_option("in")
    page.locator("#interaction-subject").fill("Asked for a quote")
    page.locator("#interaction-submit").click()
    expect(page.locator("#interactions-table")).to_contain_text("Asked for a quote")

    # A connection, picked with the contact search box.
    page.locator("#tab-connections-link").click()
    page.locator("#connection-type").select_option(label="Assistant (they see: Assistant to)")
    page.locator("#s2id_connection-other").click()
    page.keyboard.type("Jon")
    page.locator(".select2-result-label", has_text="Bob Jones").click()
    page.locator("#connection-submit").click()
    expect(page.locator("#connections-list")).to_contain_text("Assistant: Bob Jones")

    # A colleague has Ana's activity feed open; the comment reaches it without a reload.
    other = browser.new_context(base_url=live_server).new_page()
    sign_in(other, marketeer.email)
    other.goto(f"/admin/contact/details/?id={ana.id}&tab=activity")
    expect(other.locator("#activity-feed")).to_contain_text("Asked for a quote")
    expect(other.locator("#activity-feed")).not_to_contain_text("Budget is 10k")

    page.locator("#tab-activity-link").click()
    page.locator("#comment-form textarea").fill("Quote sent, <b>follow up</b> Friday")
    page.locator("#comment-submit").click()
    expect(page.locator("#activity-feed")).to_contain_text("Quote sent, <b>follow up</b> Friday")
    expect(other.locator("#activity-feed .feed-new")).to_contain_text(
        "Quote sent, <b>follow up</b> Friday", timeout=15_000
    )
    # The colleague's notes tab: the private note is not there.
    other.locator("#tab-notes-link").click()
    expect(other.locator("#notes-list")).not_to_contain_text("Budget")
    other.context.close()

    session = fresh_db()
    assert session.scalar(select(Note.private)) is True
    assert session.scalar(select(Interaction.subject)) == "Asked for a quote"
    # Bob's card shows the connection from his side.
    page.goto(f"/admin/contact/details/?id={bob.id}&tab=connections")
    expect(page.locator("#connections-list")).to_contain_text("Assistant to: Ana Smith")
