"""A marketeer writes a campaign to two segments, previews it, sends a test to themself, sends
it and watches it go out; the mails arrive at a real local SMTP server."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.widgets import (
    choose_from_main_menu,
    choose_select2_many,
    field_group,
    no_sideways_scroll,
    snap,
    submit,
)

pytestmark = pytest.mark.browser


def test_compose_preview_test_send_and_send_a_campaign(
    page: Page, app, smtp_server, make_user, make_contact, make_segment, sign_in, fresh_db
):
    app.config.update(CRM_MAIL_FROM="news@example.com", CRM_CAMPAIGN_RATE=0)
    marketeer = make_user("crm_marketeer", email="lena@example.com")
    ana = make_contact(first_name="Ana", last_name="Berg", email="ana@example.org",
                       email_marketing=True)  # fmt: skip
    bo = make_contact(first_name="Bo", last_name="Dahl", email="bo@example.org",
                      email_marketing=True)  # fmt: skip
    cy = make_contact(first_name="Cy", last_name="Eck", email="cy@example.org")  # no consent
    make_segment("Newsletter", [ana, cy])
    make_segment("Trade fair", [bo])

    sign_in(page, marketeer.email)
    page.set_viewport_size({"width": 1366, "height": 900})
    choose_from_main_menu(page, "Marketing", "Campaigns")
    page.get_by_role("link", name="Create").click()
    page.get_by_label("Campaign name").fill("Winter news")
    choose_select2_many(page, "segment_ids", "Newsletter")
    choose_select2_many(page, "segment_ids", "Trade fair")
    page.get_by_label("Subject").fill("News for ")
    page.get_by_label("Subject").focus()
    page.get_by_role("button", name="{{ first_name }}").click()
    page.get_by_label("Message").fill("Hello {{ frist_name }},\n\nOur **winter** hours.")
    submit(page, "Save and preview")
    # A mistyped merge field: said on the field, with its line; nothing typed is lost.
    expect(field_group(page, "body_text")).to_contain_text("Line 1: there is no merge field")
    expect(page.get_by_label("Subject")).to_have_value("News for {{ first_name }}")
    page.get_by_label("Message").fill(
        'Hello {{ first_name | default("there") }},\n\nOur **winter** hours.'
    )
    submit(page, "Save and preview")
    expect(page.locator("#campaign-status")).to_have_text("Draft")
    expect(page.locator("#preview-subject")).to_have_text("News for Ana")
    frame = page.frame_locator("#preview-html")
    expect(frame.locator("strong")).to_have_text("winter")
    snap(page, "campaign-draft")

    # Preview as a real contact (typed, then Enter).
    page.get_by_label("Preview as").fill("Dahl")
    page.get_by_label("Preview as").press("Enter")
    expect(page.locator("#preview-subject")).to_have_text("News for Bo")
    expect(page.locator("#preview-note")).to_contain_text("As Bo Dahl would get it")

    page.get_by_role("button", name="Send a test to me").click()
    expect(page.locator(".alert-success")).to_contain_text("A test was sent to lena@example.com")
    assert [m["Subject"] for _, _, m in smtp_server.messages] == ["[Test] News for Bo"]

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Send now").click()
    expect(page.locator("#campaign-status")).to_have_text("Sent", timeout=20_000)
    expect(page.locator("#count-sent")).to_have_text("2")
    expect(page.locator("#exclusions")).to_contain_text("No consent to email marketing: 1")
    received = sorted(tuple(to) for _, to, m in smtp_server.messages[1:])
    assert received == [("ana@example.org",), ("bo@example.org",)]
    snap(page, "campaign-sent")
    campaign_page = page.url
    # Who did not get it, and why.
    page.locator("#recipient-filters").get_by_role("link", name="Not sent").click()
    rows = page.locator("#recipients-table tr.recipient-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Cy Eck")
    expect(rows.first.locator(".recipient-status")).to_have_text(
        "Not sent: No consent to email marketing"
    )

    # The mail is in the recipient's Emails tab, to read as it was sent.
    page.goto(f"/admin/contact/details/?id={ana.id}")
    page.locator("#tab-emails-link").click()
    email = page.locator("#emails-table tr.email-row")
    expect(email).to_contain_text("Campaign: Winter news")
    expect(email.locator(".email-status")).to_have_text("Sent")
    email.get_by_role("link", name="News for Ana").click()
    expect(page.frame_locator("#email-html-frame").locator("body")).to_contain_text("Hello Ana,")

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(campaign_page)
    expect(page.locator("#campaign-status")).to_have_text("Sent")
    no_sideways_scroll(page)
    page.goto("/admin/campaigns/")
    expect(page.get_by_role("link", name="Winter news")).to_be_visible()
    expect(page.locator("tr", has_text="Winter news")).to_contain_text("2 sent of 2")
    no_sideways_scroll(page)
    page.goto("/admin/campaigns/new/")  # the compose page on a phone: one column
    expect(page.get_by_label("Campaign name")).to_be_visible()
    no_sideways_scroll(page)


def test_send_an_email_to_ticked_contacts_from_the_list(
    page: Page, app, smtp_server, make_user, make_contact, sign_in
):
    app.config.update(CRM_MAIL_FROM="news@example.com", CRM_CAMPAIGN_RATE=0)
    marketeer = make_user("crm_marketeer")
    make_contact(first_name="Ana", last_name="Berg", email="ana@example.org", email_marketing=True)
    make_contact(first_name="Bo", last_name="Dahl", email="bo@example.org", email_marketing=True)
    sign_in(page, marketeer.email)
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto("/admin/contact/")
    page.get_by_role("row", name="Ana Berg").get_by_role("checkbox").check()
    page.get_by_role("button", name="With selected").click()
    page.get_by_role("link", name="Send an email…").click()
    expect(page.locator(".alert-success")).to_contain_text("Write your email to 1 contact")
    expect(page.locator("#chosen-contacts")).to_contain_text("1 contact chosen")
    page.get_by_label("Subject").fill("Your order")
    page.get_by_label("Message").fill("It has shipped.")
    submit(page, "Save and preview")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Send now").click()
    expect(page.locator("#campaign-status")).to_have_text("Sent", timeout=20_000)
    assert [to for _, to, _ in smtp_server.messages] == [["ana@example.org"]]
