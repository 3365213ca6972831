"""The trash as a manager meets it: who moved a contact there, what the contact was, and
putting it back."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from crm.extensions import db
from crm.models import Contact
from crm.services.contacts.trash import delete_contact
from tests.browser.widgets import snap

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("viewport", [(1366, 900), (390, 844)], ids=["desktop", "phone"])
def test_a_trashed_contact_shows_who_moved_it_what_it_was_and_comes_back(
    page: Page, viewport, make_user, make_contact, sign_in, fresh_db
):
    manager = make_user("crm_manager")
    manager.full_name = "Maria Manager"
    db.session.commit()
    ana = make_contact(
        manager, first_name="Ana", last_name="Smith", email="ana@example.com",
        phones=[{"type": "Mobile", "country_code": "+44", "number": "7400 123456"}],
        account="Globex",
    )  # fmt: skip
    delete_contact(manager, ana)
    db.session.commit()

    sign_in(page, manager.email)
    page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
    page.goto("/admin/trash/")
    row = page.locator("table.model-list tbody tr", has_text="Ana Smith")
    expect(row).to_contain_text("Maria Manager")  # a name, not a user id
    expect(row).to_contain_text("Globex")
    snap(page, f"trash-list-{viewport[0]}")
    row.get_by_role("link", name="Ana Smith").click()
    expect(page.locator("#trash-title")).to_contain_text("Ana Smith")
    details = page.locator("#trash-details")
    expect(details).not_to_contain_text("Job title")  # empty fields are left out
    expect(details).to_contain_text("ana@example.com")
    expect(details).to_contain_text("Mobile: +44 7400 123456")
    expect(details).to_contain_text("Maria Manager")
    snap(page, f"trash-details-{viewport[0]}")

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#restore-submit").click()
    expect(page.locator(".alert-success")).to_contain_text("1 contact(s) restored")
    restored = fresh_db().scalars(select(Contact).where(Contact.first_name == "Ana")).one()
    assert restored.deleted_at is None
