"""Possible duplicates, the create form's warning, "Merge…" and old links of merged
contacts, in a real browser."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import Contact, NotDuplicate
from crm.models.base import utcnow
from tests.browser.widgets import open_more_menu, snap, submit

pytestmark = pytest.mark.browser


def merge_url(*ids: int) -> re.Pattern:
    query = "&".join(f"ids={i}" for i in ids)
    return re.compile(rf"/admin/merge/contacts/\?{re.escape(query)}$")


def test_find_duplicates_among_the_list_untick_one_merge_or_dismiss(
    page: Page, make_user, make_contact, sign_in, fresh_db
) -> None:
    ana = make_contact(first_name="Ana", last_name="Smith", email="ana@example.com")
    anna = make_contact(first_name="Anna", last_name="Smith", email="ana@example.com")
    ann = make_contact(first_name="Ann", last_name="Smithers", email_secondary="ana@example.com")
    phones = [{"type": "Mobile", "country_code": "GB", "number": "07400 123456"}]
    make_contact(first_name="Bo", last_name="Lee", phones=phones)
    make_contact(first_name="Bob", last_name="Li", phones=phones)
    sign_in(page, make_user("crm_manager").email)

    page.goto("/admin/contact/?search=smith")
    open_more_menu(page)  # the toolbar's More menu
    page.get_by_role("link", name="Find duplicates among these").click()
    expect(page).to_have_url(re.compile(r"/admin/duplicates/\?among=matching&search=smith"))
    expect(page.locator("#duplicates-compared")).to_contain_text("3 contact(s)")
    groups = page.locator(".duplicate-group")
    expect(groups).to_have_count(1)  # Bo and Bob are not among "smith"
    group = groups.first
    snap(page, "duplicates")
    expect(group.locator(".duplicate-score")).to_have_text("Score 95")
    expect(group.locator(".duplicate-reasons")).to_have_text("same email ana@example.com")
    expect(group.locator(".duplicate-name")).to_have_text(
        ["Ana Smith", "Anna Smith", "Ann Smithers"]
    )

    # Ann is someone else: untick her, then merge the other two.
    group.get_by_label("Merge Ann Smithers").uncheck()
    group.get_by_role("button", name="Merge…").click()
    expect(page).to_have_url(merge_url(ana.id, anna.id))

    # Back on the page: the three are different people after all.
    page.go_back()
    page.locator(".duplicate-group").first.get_by_role("button", name="Not duplicates").click()
    expect(page.locator(".alert-success.alert-dismissable")).to_contain_text(
        "Marked as different people: Ana Smith, Anna Smith, Ann Smithers."
    )
    expect(page).to_have_url(re.compile(r"/admin/duplicates/\?among=matching&search=smith$"))
    expect(page.locator("#duplicates-none")).to_be_visible()
    assert fresh_db().scalar(select(func.count()).select_from(NotDuplicate)) == 3
    assert ann.id

    # Every contact: the phone pair is still proposed.
    page.get_by_role("link", name="All contacts").click()
    expect(page.locator(".duplicate-group")).to_have_count(1)
    expect(page.locator(".duplicate-reasons")).to_have_text("same phone +447400123456")


def test_merge_from_the_list_with_selected(page: Page, make_user, make_contact, sign_in) -> None:
    first = make_contact(first_name="Ana", last_name="Alpha")
    second = make_contact(first_name="Ana", last_name="Beta")
    sign_in(page, make_user("crm_admin").email)
    page.goto("/admin/contact/")
    page.locator(f"input.action-checkbox[value='{first.id}']").check()
    page.get_by_role("button", name="With selected").click()
    page.get_by_role("link", name="Merge…").click()
    expect(page.locator(".alert-danger")).to_contain_text("Tick two to ten contacts to merge.")
    page.locator(f"input.action-checkbox[value='{first.id}']").check()
    page.locator(f"input.action-checkbox[value='{second.id}']").check()
    page.get_by_role("button", name="With selected").click()
    page.get_by_role("link", name="Merge…").click()
    expect(page).to_have_url(merge_url(first.id, second.id))


def test_creating_a_look_alike_warns_until_saved_anyway(
    page: Page, make_user, make_contact, sign_in, fresh_db
) -> None:
    existing = make_contact(first_name="Ann", last_name="Smythe", email="ana.smith@example.com")
    sign_in(page, make_user("crm_sales").email)
    page.goto("/admin/contact/new/")
    page.get_by_label("First name").fill("Ana")
    page.get_by_label("Last name").fill("Smith")
    page.get_by_label("Primary email").fill("Ana.Smith@Example.com")
    page.locator("#notes").fill("Met at the fair.")
    submit(page)

    warning = page.locator("#duplicate-warning")
    expect(warning).to_be_visible()
    snap(page, "duplicate-warning")
    expect(warning.locator(".duplicate-match")).to_have_count(1)
    expect(warning.locator(".duplicate-match")).to_contain_text("same email ana.smith@example.com")
    link = warning.get_by_role("link", name="Ann Smythe")
    expect(link).to_have_attribute("href", f"/admin/contact/details/?id={existing.id}")
    # What was typed is kept.
    expect(page.get_by_label("First name")).to_have_value("Ana")
    expect(page.get_by_label("Primary email")).to_have_value("Ana.Smith@Example.com")
    expect(page.locator("#notes")).to_have_value("Met at the fair.")
    assert fresh_db().scalar(select(func.count()).select_from(Contact)) == 1

    # Enter in a field is "Save", not "Save anyway": the warning comes back.
    page.evaluate("document.body.dataset.crmStale = '1'")
    page.get_by_label("Last name").press("Enter")
    expect(page.locator("body[data-crm-stale]")).to_have_count(0)
    expect(page.locator("#duplicate-warning")).to_be_visible()
    assert fresh_db().scalar(select(func.count()).select_from(Contact)) == 1

    submit(page, "Save anyway")
    expect(page.locator(".alert-success")).to_contain_text("Record was successfully created.")
    assert fresh_db().scalar(select(func.count()).select_from(Contact)) == 2


def test_an_old_link_of_a_merged_contact_opens_the_contact_it_was_merged_into(
    page: Page, make_user, make_contact, sign_in
) -> None:
    master = make_contact(first_name="Ana", last_name="Pérez")
    merged = make_contact(first_name="Anna", last_name="Perez")
    merged.merged_into_id, merged.deleted_at = master.id, utcnow()
    db.session.commit()
    sign_in(page, make_user("crm_sales").email)
    page.goto(f"/admin/contact/details/?id={merged.id}")
    expect(page).to_have_url(re.compile(rf"/admin/contact/details/\?id={master.id}$"))
    expect(page.locator(".alert-info")).to_contain_text(
        f"Anna Perez (#{merged.id}) was merged into this contact."
    )
    expect(page.locator("body")).to_contain_text("Pérez")
