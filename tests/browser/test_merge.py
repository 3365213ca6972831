"""Merging two contacts in a real browser: tick them on the list, "Merge…", choose values
side by side, merge; the merged contact's old link leads to the master; an administrator
undoes the merge from its page."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from crm.models import Contact

pytestmark = pytest.mark.browser


def test_merge_two_contacts_from_the_list_then_undo(
    page: Page, make_user, make_contact, sign_in, fresh_db, live_server
) -> None:
    manager = make_user("crm_manager")
    admin = make_user("crm_admin")
    ana = make_contact(manager, first_name="Ana", last_name="Merge", email="ana@example.com")
    anna = make_contact(
        manager,
        first_name="Anna",
        last_name="Merge",
        job_title="CEO",
        email="anna@work.example.com",
        phones=[{"type": "Mobile", "country_code": "GB", "number": "07400 123456"}],
    )
    ana_id, anna_id = ana.id, anna.id
    sign_in(page, manager.email)

    page.goto("/admin/contact/?search=Merge")
    page.locator(f'input.action-checkbox[value="{ana_id}"]').check()
    page.locator(f'input.action-checkbox[value="{anna_id}"]').check()
    page.get_by_role("button", name="With selected").click()
    page.get_by_role("link", name="Merge…").click()

    expect(page.locator("#merge-title")).to_have_text("Merge 2 contacts")
    expect(page.locator("#master-badge")).to_be_visible()
    # The first name differs: the master's is preselected; take the other one.
    expect(page.locator(f"#f_first_name_{ana_id}")).to_be_checked()
    page.locator(f"#f_first_name_{anna_id}").check()
    # The other email is offered as the secondary one, preselected so none is lost.
    expect(page.locator('[data-field="email_secondary"] input:checked')).to_have_count(1)
    expect(page.locator("#merge-related")).to_contain_text("Phones")
    page.locator("#merge-submit").click()

    expect(page.locator(".alert-success")).to_contain_text("Merged 1 other contact into")
    session = fresh_db()
    master = session.get(Contact, ana_id)
    assert (master.first_name, master.job_title) == ("Anna", "CEO")
    assert master.email_secondary == "anna@work.example.com"
    assert [p.e164 for p in master.phones] == ["+447400123456"]
    assert session.get(Contact, anna_id).merged_into_id == ana_id

    # The merged contact's old address leads to the master.
    page.goto(f"/admin/contact/details/?id={anna_id}")
    expect(page).to_have_url(f"{live_server}/admin/contact/details/?id={ana_id}")
    page.goto("/admin/contact/?search=Merge")
    expect(page.locator("input.action-checkbox")).to_have_count(1)

    # An administrator undoes it from the merge's page.
    page.goto("/logout")
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, admin.email)
    page.goto("/admin/merge/")
    page.locator("#merges a").nth(1).click()
    expect(page.locator("#merge-fields")).to_contain_text("CEO")
    page.locator("#undo-submit").click()
    expect(page.locator(".alert-success")).to_contain_text("undone")
    expect(page.locator("#merge-state")).to_contain_text("undone")
    session = fresh_db()
    assert session.get(Contact, ana_id).first_name == "Ana"
    assert session.get(Contact, anna_id).merged_into_id is None
    assert [p.e164 for p in session.get(Contact, anna_id).phones] == ["+447400123456"]
