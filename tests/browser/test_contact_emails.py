"""The card's Emails and Campaigns tabs in a real browser: a person writes to a contact from
the card (the mail reaches a local SMTP server), finds it in the Emails tab with its subject
and status, opens it and reads it; a campaign the contact was in shows in both tabs and its
mail reads in a sandboxed frame. At a desktop's and at a phone's size."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect

from crm.extensions import db
from crm.models import Campaign, CampaignRecipient, CampaignStatus, RecipientStatus
from tests.browser.widgets import no_sideways_scroll, snap, submit

pytestmark = pytest.mark.browser

SIZES = {"desktop": (1366, 900), "phone": (390, 844)}


@pytest.fixture
def ana(make_user, make_contact):
    manager = make_user("crm_manager")
    return make_contact(manager, first_name="Ana", last_name="Smith", email="ana@example.com")


def _at_size(page: Page, size: str) -> None:
    width, height = SIZES[size]
    page.set_viewport_size({"width": width, "height": height})


@pytest.mark.parametrize("size", list(SIZES))
def test_an_email_written_on_the_card_is_in_its_emails_tab(
    page: Page, ana, make_user, sign_in, smtp_server, size: str
) -> None:
    sales = make_user("crm_sales")
    sign_in(page, sales.email)  # at desktop size: the user menu hides on a phone
    _at_size(page, size)
    page.goto(f"/admin/contact/details/?id={ana.id}")
    page.locator("#tab-emails-link").click()
    expect(page.locator("#emails-table")).to_contain_text("No email was sent to this contact yet.")
    no_sideways_scroll(page)

    page.locator("#action-email").click()
    page.get_by_label("Subject").fill("Your quote for May")
    page.get_by_label("Message").fill("Hello Ana,\n\nthe quote is attached.\n\nSam")
    submit(page, "Send")
    expect(page.locator(".alert-success")).to_contain_text("Email sent to ana@example.com")
    [(_, recipients, _)] = smtp_server.messages
    assert recipients == ["ana@example.com"]

    # Back on the card, the Emails tab open: the message with its subject and status.
    expect(page.locator("#tab-emails")).to_be_visible()
    row = page.locator("#emails-table tr.email-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Your quote for May")
    expect(row.locator(".email-status")).to_have_text("Sent")
    expect(row).to_contain_text("ana@example.com")
    expect(row).to_contain_text(sales.full_name)
    no_sideways_scroll(page)
    snap(page, f"contact-emails-tab-{size}")

    # The activity feed tells it once.
    page.locator("#tab-activity-link").click()
    expect(page.locator("#activity-feed .feed-email")).to_contain_text(
        "Was sent an email: Your quote for May"
    )
    expect(page.locator("#activity-feed .feed-interaction")).to_have_count(0)

    page.locator("#tab-emails-link").click()
    row.get_by_role("link", name="Your quote for May").click()
    expect(page.locator("#email-subject")).to_have_text("Your quote for May")
    expect(page.locator("#email-body")).to_have_text("Hello Ana,\n\nthe quote is attached.\n\nSam")
    expect(page.locator("#email-status")).to_have_text("Sent")
    no_sideways_scroll(page)
    snap(page, f"contact-email-message-{size}")
    page.locator("#back-to-contact").click()
    expect(page.locator("#tab-emails")).to_be_visible()


@pytest.mark.parametrize("size", list(SIZES))
def test_a_campaign_shows_in_both_tabs_and_its_mail_reads_in_a_frame(
    page: Page, ana, make_user, sign_in, size: str
) -> None:
    marketeer = make_user("crm_marketeer")
    sent_at = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)
    campaign = Campaign(
        name="Spring sale", subject="Spring news for {{ first_name }}",
        body_text="Dear {{ first_name }},\n\n**20%** off this week.", status=CampaignStatus.SENT,
        started_at=sent_at, sent_by_id=marketeer.id,
    )  # fmt: skip
    db.session.add(campaign)
    db.session.flush()
    db.session.add(CampaignRecipient(campaign_id=campaign.id, contact_id=ana.id,
                                     email="ana@example.com", status=RecipientStatus.SENT,
                                     sent_at=sent_at))  # fmt: skip
    db.session.commit()
    sales = make_user("crm_sales")
    sign_in(page, sales.email)
    _at_size(page, size)
    page.goto(f"/admin/contact/details/?id={ana.id}")

    page.locator("#tab-campaigns-link").click()
    row = page.locator("#campaigns-table tr.campaign-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Spring sale")
    expect(row.locator(".campaign-status")).to_have_text("Sent on 2025-03-04 09:30")
    no_sideways_scroll(page)
    snap(page, f"contact-campaigns-tab-{size}")

    page.locator("#tab-emails-link").click()
    email = page.locator("#emails-table tr.email-row")
    expect(email).to_contain_text("Campaign: Spring sale")
    expect(email).to_contain_text("Spring news for Ana")
    expect(email.locator(".email-status")).to_have_text("Sent")
    email.get_by_role("link", name="Spring news for Ana").click()

    expect(page.locator("#email-note")).to_contain_text("Made again from the campaign's message")
    frame = page.frame_locator("#email-html-frame")
    expect(frame.locator("strong")).to_have_text("20%")
    expect(frame.locator("body")).to_contain_text("Dear Ana,")
    expect(page.locator("#email-html-frame")).to_have_attribute("sandbox", "")
    page.locator("#email-text-link").click()
    expect(page.locator("#email-body")).to_contain_text("**20%** off this week.")
    no_sideways_scroll(page)
    snap(page, f"contact-campaign-mail-{size}")
