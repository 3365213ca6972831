"""The contact list's filter menu in a real browser: a person adds a filter, picks its value
from the menu and applies it. The countries' menu is loaded when the filter is chosen (the
list page does not carry 249 countries): it must offer them all the same, and keep the
chosen one when the filtered page comes back."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def add_filter(page: Page, name: str) -> None:
    page.get_by_role("link", name="Add Filter").click()
    page.locator(".field-filters a.filter", has_text=re.compile(rf"^\s*{name}\s*$")).click()


def pick_filter_value(page: Page, option: str, search: str) -> None:
    """Open the last filter row's value menu (select2), type `search`, pick `option`."""
    value = page.locator("#filter_form table.filters tr").last.locator(
        ".select2-container.filter-val"
    )
    value.locator(".select2-choice").click()
    drop = page.locator("#select2-drop.select2-drop-active")
    expect(drop).to_be_visible()
    drop.locator("input.select2-input").press_sequentially(search)
    drop.locator(".select2-result-label", has_text=re.compile(rf"^{re.escape(option)}$")).click()
    expect(value.locator(".select2-chosen")).to_have_text(option)


def names_listed(page: Page) -> list[str]:
    return sorted(page.locator("td.col-last_name").all_inner_texts())


@pytest.mark.parametrize("size", [(1366, 900), (390, 844)])
def test_a_country_picked_in_the_filter_menu_filters_the_list(
    page: Page, make_user, make_contact, sign_in, size
) -> None:
    make_contact(
        first_name="Ana", last_name="Berliner", addresses=[{"city": "Berlin", "country": "DE"}]
    )
    make_contact(
        first_name="Ben", last_name="Lyonnais", addresses=[{"city": "Lyon", "country": "FR"}]
    )
    make_contact(first_name="Cleo", last_name="Nowhere")
    sign_in(page, make_user("crm_manager").email)
    page.set_viewport_size({"width": size[0], "height": size[1]})
    page.goto("/admin/contact/")
    page.wait_for_load_state()
    assert names_listed(page) == ["Ana Berliner", "Ben Lyonnais", "Cleo Nowhere"]

    add_filter(page, "Country")
    pick_filter_value(page, "France", search="fran")
    page.locator("#filter_form").get_by_role("button", name="Apply").click()

    expect(page).to_have_url(re.compile(r"flt\d+_country_is=FR"))
    expect(page.locator("td.col-last_name")).to_have_count(1)
    assert names_listed(page) == ["Ben Lyonnais"]
    # The filtered page shows the filter with its value, which can be changed there.
    value = page.locator("#filter_form table.filters .select2-container.filter-val")
    expect(value.locator(".select2-chosen")).to_have_text("France")
    pick_filter_value(page, "Germany", search="germ")
    page.locator("#filter_form").get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"flt\d+_country_is=DE"))
    expect(page.locator("td.col-last_name")).to_have_count(1)
    assert names_listed(page) == ["Ana Berliner"]


def test_an_owner_and_a_status_picked_in_the_filter_menu_filter_the_list(
    page: Page, make_user, make_contact, sign_in
) -> None:
    manager = make_user("crm_manager")  # "Test crm_manager"
    other = make_user("crm_sales")
    make_contact(manager, first_name="Ana", last_name="Mine", customer_status="customer")
    make_contact(manager, first_name="Ben", last_name="MineToo")
    make_contact(other, first_name="Cleo", last_name="Theirs", customer_status="customer")
    sign_in(page, manager.email)
    page.goto("/admin/contact/")
    page.wait_for_load_state()

    add_filter(page, "Owner")
    pick_filter_value(page, "Test crm_manager", search="manager")
    add_filter(page, "Customer status")
    pick_filter_value(page, "Customer", search="cust")
    page.locator("#filter_form").get_by_role("button", name="Apply").click()

    expect(page).to_have_url(re.compile(r"owner_is=.*customer_status_is=customer"))
    expect(page.locator("td.col-last_name")).to_have_count(1)
    assert names_listed(page) == ["Ana Mine"]
