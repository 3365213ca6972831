"""Quick create as a person uses it: the short new-contact dialog opened from the contact list's
"Quick create" button and from a contact picker's "+ New contact" entry, in Debian's chromium."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import select

from crm.extensions import db
from crm.models import Account, Contact, ContactKind, Deal, Task
from tests.browser.widgets import choose_select2_many, snap, submit

pytestmark = pytest.mark.browser


@pytest.fixture
def sales(make_user, make_contact):
    """A sales user with a company and a contact of their own."""
    user = make_user("crm_sales")
    db.session.add(Account(name="Globex", owner=user))
    db.session.commit()
    make_contact(user, first_name="Ana", last_name="Smith", email="ana@example.com",
                 kind="b2b", account="Globex")  # fmt: skip
    return user


def dialog(page: Page) -> Locator:
    return page.locator("dialog#quick-create")


def new_contact_entry(page: Page, typed: str) -> Locator:
    """The "+ New contact" entry at the end of the open picker's results."""
    drop = page.locator("#select2-drop.select2-drop-active")
    return drop.locator(".select2-result-label", has_text=f'+ New contact "{typed}"…')


def contact_named(session, first: str, last: str) -> Contact:
    return session.scalars(
        select(Contact).where(Contact.first_name == first, Contact.last_name == last)
    ).one()


def test_quick_create_from_the_list(page: Page, sales, sign_in, fresh_db):
    sign_in(page, sales.email)
    page.goto("/admin/contact/")
    page.get_by_role("button", name="Quick create").click()
    box = dialog(page)
    expect(box).to_be_visible()
    expect(box.get_by_label("First name")).to_be_focused()
    box.get_by_label("First name").fill("Zoe")
    box.get_by_label("Last name").fill("Quick")
    box.get_by_label("Email").fill("zoe@example.com")
    box.get_by_label("Phone").fill("+44 7400 999888")
    snap(page, "quick-create-list")
    page.evaluate("document.body.dataset.crmStale = '1'")
    box.get_by_role("button", name="Save", exact=True).click()
    # Still the list, reloaded: a message naming the contact, its card a click away.
    expect(page.locator("body[data-crm-stale]")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"/admin/contact/$"))
    message = page.locator(".alert-success", has_text="Zoe Quick was created.")
    expect(message).to_be_visible()
    row = page.locator("tr.quick-created")
    expect(row).to_contain_text("Quick")
    expect(row).to_be_in_viewport()
    zoe = contact_named(fresh_db(), "Zoe", "Quick")
    assert zoe.kind == ContactKind.B2C and zoe.owner_id == sales.id
    assert [p.e164 for p in zoe.phones] == ["+447400999888"]
    message.get_by_role("link", name="Open the card").click()
    expect(page).to_have_url(re.compile(rf"/admin/contact/details/\?id={zoe.id}$"))


def test_quick_create_from_a_deals_contacts_keeps_the_one_chosen(
    page: Page, sales, sign_in, fresh_db
):
    sign_in(page, sales.email)
    page.goto("/admin/deal/new/")
    page.get_by_label("Title").fill("Globex renewal")
    choose_select2_many(page, "contacts", "Ana Smith")
    picker = page.locator("#s2id_contacts")
    picker.locator("input.select2-input").click()
    picker.locator("input.select2-input").press_sequentially("Zed Newman")
    expect(new_contact_entry(page, "Zed Newman")).to_be_visible()
    snap(page, "quick-create-picker-entry")
    page.keyboard.press("Enter")  # no match: the entry is the one highlighted
    box = dialog(page)
    expect(box).to_be_visible()
    expect(box.get_by_label("First name")).to_have_value("Zed")
    expect(box.get_by_label("Last name")).to_have_value("Newman")
    expect(box.get_by_label("Email")).to_be_focused()
    box.get_by_label("Email").fill("zed@example.com")
    box.get_by_label("Email").press("Enter")  # Enter in the dialog saves the dialog
    expect(box).to_be_hidden()
    chosen = picker.locator(".select2-search-choice")
    expect(chosen).to_have_text(["Ana Smith", "Zed Newman"])
    # The deal's form was neither sent nor lost.
    expect(page).to_have_url(re.compile(r"/admin/deal/new/$"))
    expect(page.get_by_label("Title")).to_have_value("Globex renewal")
    assert fresh_db().scalars(select(Deal)).all() == []
    snap(page, "quick-create-deal-picker")
    submit(page)
    expect(page.locator(".alert-danger")).to_have_count(0)
    deal = fresh_db().scalars(select(Deal)).one()
    assert sorted(c.full_name for c in deal.contacts) == ["Ana Smith", "Zed Newman"]


def test_quick_create_from_a_single_picker_with_an_account(page: Page, sales, sign_in, fresh_db):
    sign_in(page, sales.email)
    page.goto("/admin/tasks/new/")
    page.get_by_label("Title").fill("Call Ola")
    page.locator("#s2id_contact .select2-choice").click()
    page.locator("#select2-drop.select2-drop-active input.select2-input").press_sequentially(
        "Ola Single"
    )
    new_contact_entry(page, "Ola Single").click()
    box = dialog(page)
    expect(box.get_by_label("First name")).to_have_value("Ola")
    # The dialog's account picker: its list opens over the dialog and takes a tap.
    box.locator("#s2id_qc-account .select2-choice").click()
    drop = page.locator("#select2-drop.select2-drop-active")
    drop.locator("input.select2-input").press_sequentially("Glob")
    expect(drop.locator(".select2-result-label", has_text="Globex")).to_be_visible()
    snap(page, "quick-create-account-picker")
    drop.locator(".select2-result-label", has_text="Globex").click()
    expect(box.locator("#s2id_qc-account .select2-chosen")).to_have_text("Globex")
    box.get_by_role("button", name="Save", exact=True).click()
    expect(box).to_be_hidden()
    expect(page.locator("#s2id_contact .select2-chosen")).to_have_text("Ola Single")
    expect(page.get_by_label("Title")).to_have_value("Call Ola")
    submit(page)
    expect(page.locator(".alert-danger")).to_have_count(0)
    session = fresh_db()
    ola = contact_named(session, "Ola", "Single")
    assert ola.kind == ContactKind.B2B and ola.account.name == "Globex"
    task = session.scalars(select(Task)).one()
    assert task.contact_id == ola.id


def test_a_look_alike_is_shown_then_saved_anyway(page: Page, sales, sign_in, fresh_db):
    sign_in(page, sales.email)
    page.goto("/admin/contact/")
    page.get_by_role("button", name="Quick create").click()
    box = dialog(page)
    box.get_by_label("First name").fill("Anna")
    box.get_by_label("Last name").fill("Smyth")
    box.get_by_label("Email").fill("ANA@example.com")
    box.get_by_role("button", name="Save", exact=True).click()
    warning = box.locator("#quick-create-duplicates")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("This contact may already exist.")
    expect(warning.get_by_role("link", name="Ana Smith")).to_be_visible()
    expect(warning).to_contain_text("(Globex, ana@example.com): same email ana@example.com")
    assert len(fresh_db().scalars(select(Contact)).all()) == 1
    snap(page, "quick-create-look-alike")
    page.evaluate("document.body.dataset.crmStale = '1'")
    warning.get_by_role("button", name="Save anyway").click()
    expect(page.locator("body[data-crm-stale]")).to_have_count(0)
    expect(page.locator(".alert-success", has_text="Anna Smyth was created.")).to_be_visible()
    assert contact_named(fresh_db(), "Anna", "Smyth").email == "ana@example.com"


def test_a_bad_email_is_shown_on_its_field_and_nothing_is_lost(
    page: Page, sales, sign_in, fresh_db
):
    sign_in(page, sales.email)
    page.goto("/admin/contact/")
    page.get_by_role("button", name="Quick create").click()
    box = dialog(page)
    box.get_by_label("First name").fill("Bea")
    box.get_by_label("Last name").fill("Typo")
    box.get_by_label("Email").fill("bea@@example")
    box.get_by_label("Phone").fill("+44 7400 999777")
    box.get_by_role("button", name="Save", exact=True).click()
    email = box.get_by_label("Email")
    expect(email).to_have_class(re.compile(r"\bis-invalid\b"))
    expect(box.locator("#qc-email-error")).to_contain_text("Not a valid email address")
    expect(box.locator("#quick-create-error")).to_contain_text("Nothing was saved")
    expect(email).to_be_focused()
    for label, value in (("First name", "Bea"), ("Last name", "Typo"),
                         ("Email", "bea@@example"), ("Phone", "+44 7400 999777")):  # fmt: skip
        expect(box.get_by_label(label)).to_have_value(value)
    assert len(fresh_db().scalars(select(Contact)).all()) == 1
    snap(page, "quick-create-field-error")
    email.fill("bea@example.com")
    expect(email).not_to_have_class(re.compile(r"\bis-invalid\b"))
    page.evaluate("document.body.dataset.crmStale = '1'")
    box.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("body[data-crm-stale]")).to_have_count(0)
    assert contact_named(fresh_db(), "Bea", "Typo").email == "bea@example.com"


def test_the_dialog_fits_a_phone(page: Page, sales, sign_in):
    sign_in(page, sales.email)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/admin/deal/new/")
    picker = page.locator("#s2id_contacts")
    picker.locator("input.select2-input").click()
    picker.locator("input.select2-input").press_sequentially("Smith")
    expect(page.locator(".select2-drop-active .select2-result-label")).to_have_text(
        ["Ana Smith", '+ New contact "Smith"…']
    )
    new_contact_entry(page, "Smith").click()
    box = dialog(page)
    expect(box).to_be_visible()
    area = box.bounding_box()
    assert area is not None
    assert area["x"] >= 0 and area["x"] + area["width"] <= 390, area
    assert area["y"] >= 0 and area["y"] + area["height"] <= 844, area
    for name in ("Save", "Cancel"):
        expect(box.get_by_role("button", name=name, exact=True)).to_be_in_viewport()
    expect(box.get_by_role("link", name="Full form")).to_be_in_viewport()
    first = box.get_by_label("First name").bounding_box()
    last = box.get_by_label("Last name").bounding_box()
    assert first and last and last["y"] > first["y"]  # one field a line on a phone
    snap(page, "quick-create-phone")
    box.get_by_role("button", name="Cancel").click()
    expect(box).to_be_hidden()
    expect(picker.locator(".select2-search-choice")).to_have_count(0)


def test_full_form_carries_what_was_typed(page: Page, sales, sign_in):
    sign_in(page, sales.email)
    page.goto("/admin/contact/")
    page.get_by_role("button", name="Quick create").click()
    box = dialog(page)
    box.get_by_label("First name").fill("Fay")
    box.get_by_label("Last name").fill("Form")
    box.get_by_label("Email").fill("fay@example.com")
    box.get_by_role("link", name="Full form").click()
    expect(page).to_have_url(re.compile(r"/admin/contact/new/\?"))
    expect(page.locator("#first_name")).to_have_value("Fay")
    expect(page.locator("#last_name")).to_have_value("Form")
    expect(page.locator("#email")).to_have_value("fay@example.com")


def test_the_entry_stays_last_when_more_matches_load(page: Page, sales, sign_in, make_contact):
    for n in range(12):  # more than a page of suggestions (10)
        make_contact(sales, first_name=f"Kim{n:02d}", last_name="Many")
    sign_in(page, sales.email)
    page.goto("/admin/deal/new/")
    picker = page.locator("#s2id_contacts")
    picker.locator("input.select2-input").click()
    picker.locator("input.select2-input").press_sequentially("Many")
    labels = page.locator(".select2-drop-active .select2-result-label")
    expect(labels).to_have_count(11)  # the first 10, then the entry
    expect(labels.last).to_have_text('+ New contact "Many"…')
    labels.nth(9).scroll_into_view_if_needed()  # scrolling down loads the next page
    page.locator(".select2-drop-active .select2-results").evaluate(
        "list => { list.scrollTop = list.scrollHeight; }"
    )
    expect(labels).to_have_count(13)
    expect(labels.last).to_have_text('+ New contact "Many"…')


def test_quick_create_from_the_cards_connection_picker(page: Page, sales, sign_in, fresh_db):
    ana = fresh_db().scalars(select(Contact).where(Contact.first_name == "Ana")).one()
    sign_in(page, sales.email)
    page.goto(f"/admin/contact/details/?id={ana.id}&tab=connections")
    page.wait_for_load_state("load")  # the picker and its "+ New contact" are set up by then
    page.locator("#s2id_connection-other .select2-choice").click()
    page.locator("#select2-drop.select2-drop-active input.select2-input").press_sequentially(
        "Pat Partner"
    )
    new_contact_entry(page, "Pat Partner").click()
    box = dialog(page)
    expect(box.get_by_label("Last name")).to_have_value("Partner")
    box.get_by_role("button", name="Save", exact=True).click()
    expect(box).to_be_hidden()
    expect(page.locator("#s2id_connection-other .select2-chosen")).to_have_text("Pat Partner")
    page.locator("#connection-submit").click()
    expect(page.locator("#connections-list")).to_contain_text("Pat Partner")
