"""The contact form in a real browser: sections, inline rows, search, details, editing."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from crm.models import Contact
from tests.browser.widgets import add_inline_row, choose_select2, field_group, section, snap, submit

pytestmark = pytest.mark.browser

# The exact wording belongs to services.validation; any "not a (valid) phone number" will do.
PHONE_ERROR = re.compile(r"not a (valid )?phone number", re.IGNORECASE)
SECTIONS = ("Profile", "Phones", "Addresses", "Social media", "Working data", "Notes")


def open_contact_list(page: Page) -> None:
    """Contacts > Contacts in the navigation bar."""
    page.wait_for_load_state("load")  # Bootstrap's dropdown script must be running
    navigation = page.get_by_role("navigation")
    item = navigation.locator(".dropdown-menu a[href$='/admin/contact/']")
    toggle = navigation.locator(".dropdown-toggle", has_text="Contacts").first
    for _attempt in range(3):
        toggle.click()
        try:
            expect(item).to_be_visible(timeout=2000)
            break
        except AssertionError:
            continue
    item.click()
    expect(page).to_have_url(re.compile(r"/admin/contact/"))


def open_create_form(page: Page) -> None:
    open_contact_list(page)
    page.get_by_role("link", name="New contact", exact=True).click()
    expect(page).to_have_url(re.compile(r"/admin/contact/new/"))


def test_create_search_view_and_edit_a_contact(page: Page, make_user, sign_in, fresh_db) -> None:
    user = make_user("crm_sales")
    sign_in(page, user.email)
    open_create_form(page)

    # The form is laid out in collapsible sections, all open.
    for title in SECTIONS:
        card = section(page, title)
        expect(card.locator(".card-header")).to_have_text(title)
        expect(card.locator(".collapse")).to_be_visible()
    # A section folds away and opens again.
    notes = section(page, "Notes")
    notes.locator(".crm-section-toggle").click()
    # Folded, and its animation over: Bootstrap ignores a click while a section is moving.
    expect(notes.locator(".collapse:not(.show)")).to_have_count(1)
    expect(notes.locator(".collapse")).to_be_hidden()
    notes.locator(".crm-section-toggle").click()
    expect(notes.locator("#notes")).to_be_visible()

    page.get_by_label("First name").fill("Ana")
    page.get_by_label("Last name").fill("Smith")
    expect(page.get_by_label("B2C (consumer)")).to_be_checked()

    mobile = add_inline_row(page, "phones", "Phone")
    choose_select2(page, f"phones-{mobile}-phone_type", "Mobile")
    page.locator(f"#phones-{mobile}-country_code").fill("+44")
    page.locator(f"#phones-{mobile}-number").fill("7400 123456")
    work = add_inline_row(page, "phones", "Phone")
    choose_select2(page, f"phones-{work}-phone_type", "Work")
    page.locator(f"#phones-{work}-country_code").fill("+1")
    page.locator(f"#phones-{work}-number").fill("201-555-0123")
    page.locator(f"#phones-{work}-extension").fill("42")

    for kind in ("Delivery", "Invoice"):
        row = add_inline_row(page, "addresses", "Address")
        choose_select2(page, f"addresses-{row}-address_type", kind)
        page.locator(f"#addresses-{row}-city").fill("London")
        page.locator(f"#addresses-{row}-country").select_option("GB")

    link = add_inline_row(page, "social_links", "Social link")
    choose_select2(page, f"social_links-{link}-platform", "LinkedIn")
    page.locator(f"#social_links-{link}-handle").fill("ana-smith")
    snap(page, "contact-form")

    submit(page)
    expect(page).to_have_url(re.compile(r"/admin/contact/(\?.*)?$"))
    expect(page.locator(".alert-success")).to_contain_text("successfully created")

    # Search the list.
    search_box = page.get_by_placeholder("Name, email, phone or company")
    search_box.fill("ith")
    search_box.press("Enter")
    expect(page).to_have_url(re.compile(r"search=ith"))
    results = page.locator("table.model-list tbody")
    expect(results.get_by_role("link", name="Ana Smith")).to_be_visible()
    snap(page, "contact-list")

    # The details page shows the rows, formatted.
    results.get_by_role("link", name="Ana Smith").click()
    expect(page).to_have_url(re.compile(r"/admin/contact/details/\?id=\d+"))
    phones = page.locator("#details-phones")
    expect(phones).to_contain_text("Mobile")
    expect(phones.get_by_role("link", name="+44 7400 123456", exact=True)).to_be_visible()
    expect(phones.get_by_role("link", name="+1 201-555-0123 ext. 42", exact=True)).to_be_visible()
    addresses = page.locator("#details-addresses li")
    expect(addresses).to_have_count(2)
    expect(addresses.filter(has_text="Delivery")).to_contain_text("London, GB")
    expect(addresses.filter(has_text="Invoice")).to_contain_text("London, GB")
    expect(
        page.locator("#details-social").get_by_role(
            "link", name="https://www.linkedin.com/in/ana-smith"
        )
    ).to_have_attribute("href", "https://www.linkedin.com/in/ana-smith")
    snap(page, "contact-details")

    # Edit: a field in the Working data section.
    page.get_by_role("group", name="Quick actions").get_by_role("link", name="Edit").click()
    expect(page).to_have_url(re.compile(r"/admin/contact/edit/"))
    working = section(page, "Working data")
    working.get_by_label("Job title").fill("Head of Purchasing")
    # The rows came back into the form as they were saved.
    numbers = page.locator("#phones .inline-field-list input[id$='-number']")
    expect(numbers).to_have_count(2)
    expect(numbers.and_(page.locator("[value='7400 123456']"))).to_have_count(1)
    expect(numbers.and_(page.locator("[value='201-555-0123']"))).to_have_count(1)
    submit(page)
    expect(page.locator(".alert-success")).to_contain_text("successfully saved")
    # Back on the card the edit was opened from, showing the change.
    expect(page).to_have_url(re.compile(r"/admin/contact/details/"))
    expect(page.locator("#contact-role")).to_have_text("Head of Purchasing")
    expect(page.locator("#contact-fields")).to_contain_text("Head of Purchasing")

    contact = fresh_db().scalars(select(Contact)).one()
    assert contact.job_title == "Head of Purchasing"
    assert len(contact.phones) == 2


def test_invalid_email_and_phone_are_shown_on_their_fields_and_nothing_is_saved(
    page: Page, make_user, sign_in, fresh_db
) -> None:
    user = make_user("crm_sales")
    sign_in(page, user.email)
    open_create_form(page)

    page.get_by_label("First name").fill("Ana")
    page.get_by_label("Last name").fill("Smith")
    page.get_by_label("Primary email").fill("ana@@example")
    row = add_inline_row(page, "phones", "Phone")
    page.locator(f"#phones-{row}-country_code").fill("+44")
    page.locator(f"#phones-{row}-number").fill("12")
    submit(page)

    expect(page.locator(".alert-danger")).to_contain_text("Nothing was saved")
    email_group = field_group(page, "email")
    expect(email_group.locator(".invalid-feedback")).to_be_visible()
    expect(email_group.locator(".invalid-feedback")).to_contain_text("Not a valid email address")
    phone_group = field_group(page, f"phones-{row}-number")
    expect(phone_group.locator(".invalid-feedback")).to_be_visible()
    expect(phone_group.locator(".invalid-feedback")).to_contain_text(PHONE_ERROR)
    snap(page, "contact-errors")

    # What was typed is still there.
    expect(page.get_by_label("First name")).to_have_value("Ana")
    expect(page.get_by_label("Last name")).to_have_value("Smith")
    expect(page.get_by_label("Primary email")).to_have_value("ana@@example")
    expect(page.locator(f"#phones-{row}-country_code")).to_have_value("+44")
    expect(page.locator(f"#phones-{row}-number")).to_have_value("12")

    # A good email and a bad phone: refused, the error only on the phone.
    page.get_by_label("Primary email").fill("ana@example.com")
    submit(page)
    expect(page.locator(".alert-danger")).to_contain_text("Nothing was saved")
    expect(field_group(page, f"phones-{row}-number").locator(".invalid-feedback")).to_contain_text(
        PHONE_ERROR
    )
    expect(field_group(page, "email").locator(".invalid-feedback")).to_have_count(0)
    expect(page.get_by_label("Primary email")).to_have_value("ana@example.com")

    # A bad email and a good phone: refused, the error only on the email.
    page.get_by_label("Primary email").fill("ana@example")
    page.locator(f"#phones-{row}-number").fill("7400 123456")
    submit(page)
    expect(page.locator(".alert-danger")).to_contain_text("Nothing was saved")
    expect(field_group(page, "email").locator(".invalid-feedback")).to_contain_text(
        "Not a valid email address"
    )
    expect(field_group(page, f"phones-{row}-number").locator(".invalid-feedback")).to_have_count(0)
    expect(page.locator(f"#phones-{row}-number")).to_have_value("7400 123456")
    assert fresh_db().scalar(select(func.count()).select_from(Contact)) == 0

    # Corrected, the same form saves.
    page.get_by_label("Primary email").fill("ana@example.com")
    submit(page)
    expect(page.locator(".alert-success")).to_contain_text("successfully created")
    contact = fresh_db().scalars(select(Contact)).one()
    assert contact.email == "ana@example.com"
    assert [phone.e164 for phone in contact.phones] == ["+447400123456"]
