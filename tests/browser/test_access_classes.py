"""An administrator makes a class, grants it, classes a contact; the granted user then sees
that contact and not the others, in a real browser."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from crm.extensions import db
from crm.models import AccessClass
from tests.browser.widgets import choose_select2, choose_select2_many, submit

pytestmark = pytest.mark.browser


def test_admin_grants_a_class_and_the_sales_user_sees_only_its_contacts(
    page: Page, browser: Browser, browser_context_args, make_user, make_contact, sign_in
) -> None:
    admin = make_user("crm_admin")
    seller = make_user("crm_sales", email="seller@example.com")
    key = AccessClass(name="Key accounts")
    db.session.add(key)
    db.session.commit()
    rita = make_contact(admin, first_name="Rita", last_name="Retail").id
    make_contact(admin, first_name="Kai", last_name="Keyman", access_class=key)
    admin_email, seller_email = admin.email, seller.email
    db.session.remove()

    sign_in(page, admin_email)
    page.goto("/admin/access-classes/new/")
    page.get_by_label("Name").fill("Retail")
    choose_select2_many(page, "users", "Test crm_sales <seller@example.com>")
    submit(page)
    expect(page.locator(".alert-success")).to_contain_text("successfully created")
    expect(page.locator("table.model-list")).to_contain_text("Test crm_sales")

    page.goto(f"/admin/contact/edit/?id={rita}")
    choose_select2(page, "access_class", "Retail")
    submit(page)
    expect(page.locator(".alert-danger")).to_have_count(0)

    other = browser.new_context(**browser_context_args)
    seller_page = other.new_page()
    sign_in(seller_page, seller_email)
    seller_page.goto("/admin/contact/?show=all")
    listing = seller_page.locator("table.model-list")
    expect(listing).to_contain_text("Rita Retail")
    expect(listing).not_to_contain_text("Keyman")
    seller_page.goto("/admin/contact/?search=keyman")
    expect(seller_page.locator("table.model-list")).not_to_contain_text("Keyman")
    expect(seller_page.locator("#match-count")).to_have_text(re.compile(r"^\s*0 contact"))
    other.close()
