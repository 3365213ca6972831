"""Selecting contacts on several list pages, then tagging the selection, in a real browser."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from crm.models import Contact, Tag, contact_tags
from tests.browser.widgets import open_more_menu

pytestmark = pytest.mark.browser


def tick_rows(page: Page, how_many: int) -> list[str]:
    boxes = page.locator("input.action-checkbox")
    ids = []
    for index in range(how_many):
        box = boxes.nth(index)
        box.check()
        ids.append(box.get_attribute("value"))
    return ids


def run_action(page: Page, label: str) -> None:
    page.get_by_role("button", name="With selected").click()
    page.get_by_role("link", name=label).click()
    page.wait_for_load_state()


def test_select_on_pages_one_and_three_then_tag_and_assign_the_selection(
    page: Page, make_user, make_contact, sign_in, fresh_db
) -> None:
    for index in range(45):
        make_contact(first_name="Pat", last_name=f"Person{index:02d}")
    colleague = make_user("crm_sales", email="colleague@example.com")
    user = make_user("crm_manager")
    sign_in(page, user.email)

    page.goto("/admin/contact/")
    chosen = tick_rows(page, 2)
    run_action(page, "Add to selected contacts")
    expect(page.locator(".alert-success")).to_contain_text("2 contact(s) added to your selection")
    page.goto("/admin/contact/?page=2")
    chosen += tick_rows(page, 1)
    run_action(page, "Add to selected contacts")
    expect(page.locator("#selection-count")).to_have_text("3")

    page.locator("#contact-scope").get_by_role("link", name=re.compile("Selected")).click()
    expect(page.locator("input.action-checkbox")).to_have_count(3)
    shown = sorted(
        page.locator("input.action-checkbox").evaluate_all("boxes => boxes.map(b => b.value)")
    )
    assert shown == sorted(chosen)

    open_more_menu(page)  # the toolbar's More menu
    page.locator("#bulk-selection").click()
    expect(page.locator("#bulk-total")).to_have_text("3")
    # Two actions in one go: a tag and a responsible user.
    page.get_by_label("Add tags").check()
    page.locator("#tags").fill("Loyal")
    page.get_by_label("Assign a responsible user").check()
    page.locator("#responsible").select_option(str(colleague.id))
    page.locator("#confirm").check()
    page.locator("#bulk-submit").click()
    expect(page.locator(".alert-success").first).to_contain_text(
        "Add tag Loyal: 3 contact(s) changed."
    )
    expect(page.locator(".alert-success")).to_have_count(2)

    session = fresh_db()
    tagged = session.scalars(
        select(Contact.id)
        .join(contact_tags, contact_tags.c.contact_id == Contact.id)
        .join(Tag, Tag.id == contact_tags.c.tag_id)
        .where(Tag.key == "loyal")
    ).all()
    assert sorted(str(i) for i in tagged) == sorted(chosen)
    in_charge = session.scalars(select(Contact.id).where(Contact.responsible_id == colleague.id))
    assert sorted(str(i) for i in in_charge) == sorted(chosen)


def test_choose_columns_sort_by_one_and_save_the_view(
    page: Page, make_user, make_contact, sign_in
) -> None:
    make_contact(
        first_name="Ana",
        last_name="Berg",
        job_title="Buyer",
        addresses=[{"type": "Main", "city": "Berlin", "country": "DE"}],
    )
    make_contact(first_name="Bo", last_name="Adler", job_title="Architect")
    sign_in(page, make_user("crm_sales").email)

    page.goto("/admin/contact/")
    page.locator("#column-chooser summary").click()
    menu = page.locator(".column-chooser-menu")
    menu.get_by_label("Job title").check()
    menu.get_by_label("City").check()
    menu.get_by_label("Tags").uncheck()
    page.locator("#show-columns").click()
    page.wait_for_load_state()
    headers = page.locator("th.column-header")
    expect(headers.filter(has_text="Job title")).to_have_count(1)
    expect(headers.filter(has_text="City")).to_have_count(1)
    expect(headers.filter(has_text="Tags")).to_have_count(0)
    ana = page.locator("tr", has_text="Ana Berg")
    expect(ana.locator("td.col-addresses")).to_have_text("Berlin, DE")
    expect(ana.locator("td.col-job_title")).to_have_text("Buyer")

    page.locator("#list-views summary").click()
    page.locator("input[name=name]").fill("Buyers and cities")
    page.locator("#save-view").click()
    expect(page.locator(".alert-success")).to_contain_text("View 'Buyers and cities' saved")
    page.goto("/admin/contact/")
    expect(page.locator("th.column-header").filter(has_text="City")).to_have_count(0)
    page.wait_for_load_state("load")  # Bootstrap's dropdown script must be running
    saved = page.get_by_role("link", name="Buyers and cities")
    for _attempt in range(3):
        page.locator("#crm-my-views").click()  # the My views menu
        try:
            expect(saved).to_be_visible(timeout=2000)
            break
        except AssertionError:
            continue
    saved.click()
    expect(page.locator("th.column-header").filter(has_text="City")).to_have_count(1)
    expect(page.locator("th.column-header").filter(has_text="Tags")).to_have_count(0)
