"""Driving Flask-Admin's widgets (select2 3.x, inline rows) the way a user does."""

from __future__ import annotations

import os
import re
from pathlib import Path

from playwright.sync_api import Locator, Page, expect


def section(page: Page, title: str) -> Locator:
    """The collapsible card of the contact form titled `title`."""
    key = title.lower().replace(" ", "-")
    return page.locator(f"#section-{key}")


def add_inline_row(page: Page, relation: str, label: str) -> int:
    """Click Flask-Admin's "Add <label>" button; return the index of the new row."""
    rows = page.locator(f"#{relation} .inline-field-list > .inline-field")
    before = rows.count()
    page.get_by_role("button", name=f"Add {label}", exact=True).click()
    expect(rows).to_have_count(before + 1)
    row_id = rows.nth(before).get_attribute("id") or ""
    match = re.fullmatch(rf"{relation}-(\d+)", row_id)
    assert match, f"unexpected inline row id {row_id!r}"
    return int(match.group(1))


def choose_select2(page: Page, field_id: str, option: str, *, search: str | None = None) -> None:
    """Open the select2 widget of `field_id`, optionally type `search`, pick `option`."""
    page.locator(f"#s2id_{field_id} .select2-choice").click()
    drop = page.locator("#select2-drop.select2-drop-active")
    expect(drop).to_be_visible()
    if search is not None:
        drop.locator("input.select2-input").fill(search)
    drop.locator(".select2-result-label", has_text=re.compile(rf"^{re.escape(option)}$")).click()
    expect(drop).to_be_hidden()
    expect(page.locator(f"#s2id_{field_id} .select2-chosen")).to_have_text(option)


def field_group(page: Page, field_id: str) -> Locator:
    """The .form-group holding the field with this id (label, input and errors)."""
    return page.locator(".form-group", has=page.locator(f"[id='{field_id}']")).last


def no_sideways_scroll(page: Page) -> None:
    """The page is no wider than the window: nothing scrolls sideways."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"the page is {width}px wide"


def snap(page: Page, name: str) -> None:
    """A full-page screenshot in $CRM_SCREENSHOTS (when set), for looking at the layout."""
    folder = os.environ.get("CRM_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def submit(page: Page, button: str = "Save") -> None:
    """Click a submit button and wait until the answer has replaced the page.

    The answer to a refused form can look like the page before it (same URL, same alert):
    the old page is marked first, so checks that follow never read it.
    """
    page.evaluate("document.body.dataset.crmStale = '1'")
    page.get_by_role("button", name=button, exact=True).click()
    expect(page.locator("body[data-crm-stale]")).to_have_count(0)
    page.wait_for_load_state()


def choose_select2_many(page: Page, field_id: str, option: str) -> None:
    """Add `option` to the multiple select2 widget of `field_id` (type, then pick)."""
    box = page.locator(f"#s2id_{field_id}")
    box.locator("input.select2-input").click()
    box.locator("input.select2-input").fill(option[:4])
    drop = page.locator("#select2-drop.select2-drop-active")
    drop.locator(".select2-result-label", has_text=re.compile(rf"^{re.escape(option)}$")).click()
    expect(box.locator(".select2-search-choice", has_text=option)).to_have_count(1)


def open_more_menu(page: Page) -> None:
    """Open the contact list's More menu. Bootstrap's dropdown script must have run: a click
    before it has (a busy machine) opens nothing, so wait for the page's scripts first."""
    page.wait_for_load_state("load")
    menu = page.locator("#list-more .dropdown-menu")
    for _ in range(3):
        page.locator("#list-more > a").click()
        try:
            expect(menu).to_be_visible(timeout=3_000)
            return
        except AssertionError:
            continue
    expect(menu).to_be_visible()


def choose_from_main_menu(page: Page, menu: str, item: str) -> None:
    """Open the main menu's `menu` dropdown and click `item`, once the page's scripts have
    run (a click on a dropdown before Bootstrap's script has run opens nothing)."""
    page.wait_for_load_state("load")
    link = page.get_by_role("link", name=item, exact=True)
    for _ in range(3):
        page.get_by_role("link", name=menu, exact=True).click()
        try:
            expect(link).to_be_visible(timeout=3_000)
            break
        except AssertionError:
            continue
    link.click()
