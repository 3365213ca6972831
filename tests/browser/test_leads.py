"""A lead converted in a real browser: create it in the form, qualify it, convert it; the
contact's page opens with what the lead had, a deal from there makes it a Prospect, and
winning the deal a Customer."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from crm.models import Contact, Lead, LeadStatus

pytestmark = pytest.mark.browser


def test_create_qualify_and_convert_a_lead_then_win_a_deal(
    page: Page, make_user, make_contact, sign_in, fresh_db, live_server
) -> None:
    sales = make_user("crm_sales")
    make_contact(sales, first_name="Old", last_name="Hand", account="Vogel & Co")
    sign_in(page, sales.email)

    page.goto("/admin/lead/new/")
    page.locator("#first_name").fill("Lena")
    page.locator("#last_name").fill("Vogel")
    page.locator("#company").fill("VOGEL & CO")
    page.locator("#email").fill("Lena@Vogel.example")
    page.locator("#phone").fill("030 1234567")
    page.locator("#country").select_option("DE")
    page.locator("#status").select_option("qualified")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".alert-success")).to_contain_text("Record was successfully created")

    lead_id = fresh_db().scalar(select(Lead.id))
    page.goto(f"/admin/lead/details/?id={lead_id}")
    page.locator("#convert-submit").click()
    expect(page.locator(".alert-success")).to_contain_text("Lead converted: Lena Vogel")
    expect(page.locator("#customer-status")).to_have_text("Non-customer")
    expect(page.locator("#details-phones")).to_contain_text("+49 30 1234567")

    session = fresh_db()
    contact = session.scalar(select(Contact).where(Contact.last_name == "Vogel"))
    assert contact.email == "lena@vogel.example" and contact.account.name == "Vogel & Co"
    assert session.scalar(select(Lead.status)) == LeadStatus.CONVERTED

    page.locator("#tab-sales-link").click()  # the card's "Deals & orders" tab
    page.locator("#new-deal").click()
    page.locator("#title").fill("Website relaunch")
    page.locator("#amount").fill("2500")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".alert-success")).to_contain_text("Record was successfully created")
    page.goto(f"/admin/contact/details/?id={contact.id}")
    expect(page.locator("#customer-status")).to_have_text("Prospect")
    page.locator("#tab-sales-link").click()
    page.locator("#details-deals a", has_text="Website relaunch").click()
    page.locator("#mark-won").click()
    expect(page.locator(".alert-success")).to_contain_text("is won now")
    page.goto(f"/admin/contact/details/?id={contact.id}")
    expect(page.locator("#customer-status")).to_have_text("Customer")
    expect(page.locator("#prospect-status")).to_have_text("Non-prospect")

    page.goto(f"/admin/lead/details/?id={lead_id}")
    expect(page.locator("#converted-contact")).to_be_visible()
    expect(page.locator("#convert-submit")).to_have_count(0)
