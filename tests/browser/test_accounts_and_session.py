"""B2B contacts with an account chosen by autocomplete, B2C disabling it, and signing out."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from crm.extensions import db
from crm.models import Account, Contact
from tests.browser.widgets import choose_select2, snap, submit

pytestmark = pytest.mark.browser


def account_widget(page: Page):
    return page.locator("#s2id_account")


def test_b2b_contact_gets_the_account_chosen_by_autocomplete(
    page: Page, make_user, sign_in, fresh_db
) -> None:
    user = make_user("crm_sales")
    sign_in(page, user.email)

    # An account, created through Accounts > Create.
    page.get_by_role("navigation").get_by_role("link", name="Accounts", exact=True).click()
    page.get_by_role("link", name="Create", exact=True).click()
    expect(page).to_have_url(re.compile(r"/admin/account/new/"))
    page.get_by_label("Name").fill("Globex Corporation")
    submit(page)
    expect(page.locator(".alert-success")).to_contain_text("successfully created")
    expect(page.locator("table.model-list")).to_contain_text("Globex Corporation")

    page.goto("/admin/contact/new/")
    page.get_by_label("First name").fill("Bea")
    page.get_by_label("Last name").fill("Jones")

    # B2C (the default) disables the account; B2B enables it.
    account_input = page.locator("input#account")
    expect(page.get_by_label("B2C (consumer)")).to_be_checked()
    expect(account_input).to_be_disabled()
    expect(account_widget(page)).to_have_class(re.compile(r"select2-container-disabled"))
    # B2C: always the primary contact of the personal account, so ticked and locked.
    primary = page.get_by_label("Primary contact")
    expect(primary).to_be_checked()
    expect(primary).to_be_disabled()
    page.get_by_label("B2B (works for an account)").check()
    expect(account_input).to_be_enabled()
    expect(account_widget(page)).not_to_have_class(re.compile(r"select2-container-disabled"))
    # B2B: the user's choice again (not the tick B2C forced).
    expect(primary).to_be_enabled()
    expect(primary).not_to_be_checked()

    choose_select2(page, "account", "Globex Corporation", search="lobex")
    snap(page, "contact-form-b2b")
    submit(page)
    expect(page.locator(".alert-success")).to_contain_text("successfully created")
    expect(page.locator("table.model-list")).to_contain_text("Globex Corporation")

    page.locator("table.model-list").get_by_role("link", name="Bea Jones").click()
    expect(page.locator("h5 .badge")).to_have_text("B2B")
    account_row = page.get_by_role("row").filter(
        has=page.get_by_role("rowheader", name="Account", exact=True)
    )
    expect(account_row.get_by_role("cell").last).to_have_text("Globex Corporation")
    snap(page, "contact-details-b2b")

    contact = fresh_db().scalars(select(Contact)).one()
    assert contact.account is not None and contact.account.name == "Globex Corporation"
    assert not contact.account.is_hidden
    assert not contact.is_primary  # left unticked on the form


def test_choosing_b2c_again_disables_the_account_and_saves_a_consumer(
    page: Page, make_user, sign_in, fresh_db
) -> None:
    user = make_user("crm_sales")
    db.session.add(Account(name="Initech", owner=user))
    db.session.commit()
    sign_in(page, user.email)
    page.goto("/admin/contact/new/")
    page.get_by_label("First name").fill("Cy")
    page.get_by_label("Last name").fill("Brown")

    page.get_by_label("B2B (works for an account)").check()
    choose_select2(page, "account", "Initech", search="init")
    page.get_by_label("Primary contact").check()
    page.get_by_label("B2C (consumer)").check()
    expect(page.get_by_label("Primary contact")).to_be_disabled()
    # Back and forth: B2B remembers that the user ticked the box.
    page.get_by_label("B2B (works for an account)").check()
    expect(page.get_by_label("Primary contact")).to_be_checked()
    expect(page.locator("#s2id_account .select2-chosen")).to_have_text("Initech")
    page.get_by_label("B2C (consumer)").check()
    expect(page.locator("input#account")).to_be_disabled()
    expect(account_widget(page)).to_have_class(re.compile(r"select2-container-disabled"))

    submit(page)
    expect(page.locator(".alert-success")).to_contain_text("successfully created")
    contact = fresh_db().scalars(select(Contact)).one()
    assert contact.account.is_hidden  # the personal account, not Initech
    assert contact.account.name == "Cy Brown"
    assert contact.is_primary


def test_sign_out_from_the_user_menu(page: Page, make_user, sign_in, live_server: str) -> None:
    user = make_user("crm_sales")
    sign_in(page, user.email)
    page.goto("/admin/contact/")

    page.locator("#crm-user-menu").click()
    sign_out = page.get_by_role("button", name="Sign out", exact=True)
    expect(sign_out).to_be_visible()
    sign_out.click()
    expect(page).to_have_url(f"{live_server}/login")
    expect(page.locator(".alert")).to_contain_text("signed out")

    page.goto("/admin/contact/")
    expect(page).to_have_url(re.compile(r"/login\?next=(/|%2F)admin(/|%2F)contact"))
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
