"""The contact list as a back-office user meets it with the demo data: a toolbar in one row,
names, emails and phone numbers on one line, a click on a row's name opening the card, tags
as chips; on a phone each contact a card, its name first, and no sideways scrolling."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from crm.extensions import db
from crm.services.transfer.demo_data import load_demo
from tests.browser.widgets import no_sideways_scroll, snap

pytestmark = pytest.mark.browser


def one_line(page: Page, selector: str) -> None:
    """Every element matching `selector` shows its text on a single line."""
    wrapped = page.locator(selector).evaluate_all(
        """cells => cells.filter(cell => {
               const range = document.createRange();
               range.selectNodeContents(cell);
               const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
               return tops.size > 1;
           }).map(cell => cell.textContent.trim())"""
    )
    assert wrapped == [], f"wrapped over two lines: {wrapped}"


@pytest.fixture
def demo(make_user):
    admin = make_user("crm_admin")
    load_demo(40, seed=1)
    db.session.commit()
    return admin


def test_the_list_at_1366_one_row_toolbar_one_line_cells_and_a_name_click_opens_the_card(
    page: Page, demo, sign_in
) -> None:
    sign_in(page, demo.email)
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto("/admin/contact/")
    page.wait_for_load_state()

    # The toolbar: every control on one row.
    toolbar = page.locator("#contact-toolbar")
    tops = toolbar.locator(":scope > *").evaluate_all(
        "items => items.filter(i => i.offsetParent).map(i => i.getBoundingClientRect())"
        ".map(r => Math.round(r.top + r.height / 2))"
    )
    assert max(tops) - min(tops) <= 4, f"the toolbar wraps: centres at {tops}"
    for control in ("Add Filter", "With selected", "More"):
        expect(
            toolbar.get_by_role("button", name=control).or_(
                toolbar.get_by_role("link", name=control)
            )
        ).to_be_visible()
    expect(toolbar.get_by_role("link", name="New contact")).to_be_visible()

    # The default columns fit: neither the page nor the table scrolls sideways.
    no_sideways_scroll(page)
    table_box = page.locator(".contact-list .table-responsive")
    overflow = table_box.evaluate("box => box.scrollWidth - box.clientWidth")
    assert overflow <= 0, f"the table scrolls sideways by {overflow}px"
    one_line(page, "td.col-last_name a")
    one_line(page, "td.col-email .cell-clip")
    one_line(page, "td.col-phones")

    # Tags are chips, each a link to everyone with that tag.
    chip = page.locator("td.col-tags a.badge-pill").first
    expect(chip).to_be_visible()
    tag = chip.inner_text()
    snap(page, "contact-list-1366")

    # A click anywhere in the name's cell, not only on the text, opens the card.
    row = page.locator("table.model-list tbody tr").first
    name = row.locator("td.col-last_name a").inner_text()
    cell = row.locator("td.col-last_name").bounding_box()
    assert cell is not None
    page.mouse.click(cell["x"] + cell["width"] - 3, cell["y"] + cell["height"] - 3)
    expect(page).to_have_url(re.compile(r"/admin/contact/details/\?id=\d+"))
    expect(page.locator("#contact-title")).to_contain_text(name)

    page.go_back()
    page.locator("td.col-tags a.badge-pill", has_text=tag).first.click()
    expect(page).to_have_url(re.compile(r"flt0_tag_is="))
    for cell_tags in page.locator("td.col-tags").all():
        expect(cell_tags).to_contain_text(tag)


def test_the_more_menu_holds_bulk_work_duplicates_and_the_page_size(
    page: Page, demo, sign_in
) -> None:
    sign_in(page, demo.email)
    page.goto("/admin/contact/")
    page.wait_for_load_state()
    more = page.locator("#list-more")
    expect(more.locator("#bulk-matching")).to_be_hidden()
    more.get_by_role("button", name="More").or_(more.get_by_role("link", name="More")).click()
    expect(more.locator("#find-duplicates")).to_be_visible()
    more.get_by_role("link", name="50 per page").click()
    expect(page).to_have_url(re.compile(r"page_size=50"))
    expect(page.locator("table.model-list tbody tr")).to_have_count(40)
    expect(page.locator("#match-count")).to_have_text("40 contacts")


def test_the_list_on_a_phone_names_first_no_sideways_scroll_and_search_with_enter(
    page: Page, demo, sign_in
) -> None:
    sign_in(page, demo.email)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/admin/contact/")
    page.wait_for_load_state()
    no_sideways_scroll(page)
    expect(page.locator("table.model-list thead")).to_be_hidden()

    # Each contact is a card: the name on top, then its email and phone below it.
    first = page.locator("table.model-list tbody tr").first
    name_box = first.locator("td.col-last_name").bounding_box()
    email_box = first.locator("td.col-email").bounding_box()
    assert name_box and email_box
    assert name_box["y"] + name_box["height"] <= email_box["y"] + 1
    assert email_box["x"] + email_box["width"] <= 390
    # Columns that need their name say it ("Owner: Tom Baker").
    expect(first.locator("td.col-owner")).to_be_visible()
    owner_label = first.locator("td.col-owner").evaluate(
        "cell => getComputedStyle(cell, '::before').content"
    )
    assert "Owner" in owner_label
    snap(page, "contact-list-390")

    whole_name = first.locator("td.col-last_name a").inner_text()
    box = page.get_by_role("searchbox", name="Search contacts")
    box.fill(whole_name)
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"search="))
    expect(page.locator("td.col-last_name a", has_text=whole_name).first).to_be_visible()
    expect(page.locator("#match-count")).not_to_have_text("40 contacts")
    no_sideways_scroll(page)
