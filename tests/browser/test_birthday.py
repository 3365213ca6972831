"""A birthday entered as a person does: a day and a month picked from lists, the year left
empty or typed, on a desktop and on a phone."""

from __future__ import annotations

import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import select

from crm.models import Contact
from tests.browser.widgets import field_group, no_sideways_scroll, snap, submit

pytestmark = pytest.mark.browser

# Whether the chosen option's text, the select's left padding and its arrow fit in the select.
FITS = """el => {
  const style = getComputedStyle(el);
  const context = document.createElement("canvas").getContext("2d");
  context.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
  const text = context.measureText(el.options[el.selectedIndex].text).width;
  return text + parseFloat(style.paddingLeft) + 20 <= el.clientWidth;
}"""


def _card_row(page: Page, label: str) -> Locator:
    """The value cell of the contact card's row headed `label`."""
    row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=label, exact=True))
    return row.get_by_role("cell").last


def _birthday(page: Page) -> tuple[Locator, Locator, Locator]:
    group = page.get_by_role("group", name="Birthday")
    return (
        group.get_by_label("Day", exact=True),
        group.get_by_label("Month", exact=True),
        group.get_by_label("Year (optional)", exact=True),
    )


def test_a_birthday_without_a_year_then_with_one(page: Page, make_user, sign_in, fresh_db):
    user = make_user("crm_sales")
    sign_in(page, user.email)
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto("/admin/contact/new/")
    page.get_by_label("First name").fill("Ana")
    page.get_by_label("Last name").fill("Smith")
    day, month, year = _birthday(page)
    # One row on a desktop: the three inputs side by side.
    tops = {round(box["y"]) for box in (c.bounding_box() or {} for c in (day, month, year))}
    assert len(tops) == 1, tops
    day.select_option("17")
    month.select_option(label="May")
    expect(year).to_have_value("")
    snap(page, "birthday-form-1366")
    submit(page)
    expect(page.locator(".alert-danger")).to_have_count(0)
    expect(page.locator(".alert-success")).to_be_visible()

    ana = fresh_db().scalars(select(Contact)).one()
    page.goto(f"/admin/contact/details/?id={ana.id}")
    expect(_card_row(page, "Birthday")).to_have_text("17 May")
    expect(page.locator("body")).not_to_contain_text("1604")

    # The edit form shows it split, the year empty; the person types the year.
    page.goto(f"/admin/contact/edit/?id={ana.id}")
    day, month, year = _birthday(page)
    expect(day).to_have_value("17")
    expect(month.locator("option:checked")).to_have_text("May")
    expect(year).to_have_value("")
    year.click()
    year.press_sequentially("1980")
    submit(page)
    expect(page.locator(".alert-danger")).to_have_count(0)
    assert fresh_db().get(Contact, ana.id).birthday.isoformat() == "1980-05-17"
    page.goto(f"/admin/contact/details/?id={ana.id}")
    expect(_card_row(page, "Birthday")).to_have_text("1980-05-17")
    # The history names the change in people's words.
    page.goto(f"/admin/contact/details/?id={ana.id}&tab=history")
    expect(page.locator("#history-table")).to_contain_text("17 May")
    expect(page.locator("#history-table")).not_to_contain_text("1604")


def test_an_impossible_day_is_refused_on_the_field_and_the_choices_stay(
    page: Page, make_user, sign_in, fresh_db
):
    user = make_user("crm_sales")
    sign_in(page, user.email)
    page.goto("/admin/contact/new/")
    page.get_by_label("First name").fill("Ana")
    page.get_by_label("Last name").fill("Smith")
    day, month, year = _birthday(page)
    day.select_option("31")
    month.select_option(label="February")
    submit(page)
    group = field_group(page, "birthday")
    expect(group.locator(".invalid-feedback")).to_be_visible()
    expect(group.locator(".invalid-feedback")).to_have_text("February has no 31st.")
    day, month, year = _birthday(page)
    expect(day).to_have_value("31")
    expect(month.locator("option:checked")).to_have_text("February")
    expect(year).to_have_value("")
    snap(page, "birthday-error-1366")
    assert fresh_db().scalars(select(Contact)).all() == []

    # Put right, with a year that is not a leap year for 29 February.
    day.select_option("29")
    year.fill("1981")
    submit(page)
    expect(field_group(page, "birthday").locator(".invalid-feedback")).to_have_text(
        "29 February 1981 did not exist: 1981 was not a leap year."
    )
    day, month, year = _birthday(page)
    year.fill("1984")
    submit(page)
    expect(page.locator(".alert-success")).to_be_visible()
    assert fresh_db().scalars(select(Contact)).one().birthday.isoformat() == "1984-02-29"


def test_on_a_phone_the_three_inputs_fit(page: Page, make_user, sign_in, fresh_db):
    user = make_user("crm_sales")
    sign_in(page, user.email)  # at desktop size: the user menu hides at 390 px
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/admin/contact/new/")
    page.get_by_label("First name").fill("Bo")
    page.get_by_label("Last name").fill("Lee")
    day, month, year = _birthday(page)
    day.scroll_into_view_if_needed()
    for control in (day, month, year):
        box = control.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
        assert box["width"] >= 60, box  # wide enough to read and tap
    # "September", the longest month, is readable in its select (its text, the padding and
    # the select's arrow, about 20 px, fit in the box).
    month.select_option(label="September")
    assert month.evaluate(FITS), "September does not fit in the month select"
    no_sideways_scroll(page)
    day.select_option("2")
    year.click()
    year.press_sequentially("1975")
    snap(page, "birthday-form-390")
    submit(page)
    expect(page.locator(".alert-success")).to_be_visible()
    assert fresh_db().scalars(select(Contact)).one().birthday.isoformat() == "1975-09-02"
