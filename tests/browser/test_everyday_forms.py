"""Everyday forms as a person fills them in: pickers holding two or more values, the account
of a deal and of a task, and tags typed with Enter."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from crm.extensions import db
from crm.models import Account, Appointment, Contact, Deal, Task
from tests.browser.widgets import choose_select2, choose_select2_many, snap, submit

pytestmark = pytest.mark.browser


@pytest.fixture
def sales(make_user, make_contact):
    """A sales user with three companies and two contacts of their own."""
    user = make_user("crm_sales")
    for name in ("Globex", "Initech", "Umbrella"):
        db.session.add(Account(name=name, owner=user))
    db.session.commit()
    make_contact(user, first_name="Ana", last_name="Smith", kind="b2b", account="Globex")
    make_contact(user, first_name="Bo", last_name="Lee", kind="b2b", account="Globex")
    return user


def test_a_contact_works_for_two_other_accounts_too(page: Page, sales, sign_in, fresh_db):
    sign_in(page, sales.email)
    ana = db.session.scalar(select(Contact).where(Contact.first_name == "Ana"))
    page.goto(f"/admin/contact/edit/?id={ana.id}")
    choose_select2_many(page, "linked_accounts", "Initech")
    choose_select2_many(page, "linked_accounts", "Umbrella")
    submit(page)
    expect(page.locator(".alert-success")).to_be_visible()
    expect(page.locator(".alert-danger")).to_have_count(0)
    ana = fresh_db().get(Contact, ana.id)
    assert sorted(a.name for a in ana.linked_accounts) == ["Initech", "Umbrella"]


def test_a_deal_with_two_contacts_and_its_account(page: Page, sales, sign_in, fresh_db):
    sign_in(page, sales.email)
    page.goto("/admin/deal/new/")
    page.get_by_label("Title").fill("Globex renewal")
    choose_select2_many(page, "contacts", "Ana Smith")
    choose_select2_many(page, "contacts", "Bo Lee")
    expect(page.locator("input#account")).to_be_enabled()  # no B2B/B2C choice here
    choose_select2(page, "account", "Globex", search="Glob")
    snap(page, "deal-form-two-contacts")
    submit(page)
    expect(page.locator(".alert-danger")).to_have_count(0)
    deal = fresh_db().scalars(select(Deal)).one()
    assert sorted(c.first_name for c in deal.contacts) == ["Ana", "Bo"]
    assert deal.account is not None and deal.account.name == "Globex"


def test_a_task_for_a_company(page: Page, sales, sign_in, fresh_db):
    sign_in(page, sales.email)
    page.goto("/admin/tasks/new/")
    page.get_by_label("Title").fill("Send the Initech quote")
    expect(page.locator("input#account")).to_be_enabled()
    choose_select2(page, "account", "Initech", search="Init")
    submit(page)
    expect(page.locator(".alert-danger")).to_have_count(0)
    task = fresh_db().scalars(select(Task)).one()
    assert task.account is not None and task.account.name == "Initech"


def test_an_appointment_with_two_participants_and_two_companies(
    page: Page, sales, sign_in, fresh_db
):
    sign_in(page, sales.email)
    page.goto("/admin/appointments/new/")
    page.get_by_label("Subject").fill("Kick-off")
    page.get_by_label("Starts").fill("2026-12-10T10:00")
    page.get_by_label("Ends").fill("2026-12-10T11:00")
    choose_select2_many(page, "contacts", "Ana Smith")
    choose_select2_many(page, "contacts", "Bo Lee")
    choose_select2_many(page, "accounts", "Globex")
    choose_select2_many(page, "accounts", "Initech")
    submit(page)
    expect(page.locator(".alert-danger")).to_have_count(0)
    meeting = fresh_db().scalars(select(Appointment)).one()
    assert sorted(c.first_name for c in meeting.contacts) == ["Ana", "Bo"]
    assert sorted(a.name for a in meeting.accounts) == ["Globex", "Initech"]


def test_tags_typed_with_enter_do_not_save_the_form(page: Page, sales, sign_in, fresh_db):
    sign_in(page, sales.email)
    page.goto("/admin/contact/new/")
    page.get_by_label("First name").fill("Cy")
    page.get_by_label("Last name").fill("Park")
    tags = page.locator("#s2id_tags input.select2-input")
    for name in ("VIP", "Press"):
        tags.click()
        tags.type(name)
        tags.press("Enter")
        expect(page.locator("#s2id_tags .select2-search-choice", has_text=name)).to_have_count(1)
    tags.press("Enter")  # once more, on the empty field, as people do to be sure
    tags.press("Escape")  # closes the picker's list
    # Still on the form, half filled in: nothing was sent.
    expect(page).to_have_url(re.compile(r"/admin/contact/new/"))
    assert fresh_db().scalars(select(Contact).where(Contact.first_name == "Cy")).first() is None
    page.get_by_label("Job title").fill("Editor")
    submit(page)
    expect(page.locator(".alert-success")).to_be_visible()
    cy = fresh_db().scalars(select(Contact).where(Contact.first_name == "Cy")).one()
    assert sorted(t.name for t in cy.tags) == ["Press", "VIP"] and cy.job_title == "Editor"


def test_a_retired_phone_type_is_not_offered_to_new_rows(page: Page, sales, sign_in, fresh_db):
    from crm.models import PhoneType
    from tests.browser.widgets import add_inline_row

    fax = db.session.scalar(select(PhoneType).where(PhoneType.name == "Fax"))
    fax.active = False
    db.session.commit()
    sign_in(page, sales.email)
    page.goto("/admin/contact/new/")
    row = add_inline_row(page, "phones", "Phone")
    offered = page.locator(f"#phones-{row}-phone_type option").all_inner_texts()
    assert "Mobile" in offered and not any("Fax" in label for label in offered)


def test_the_sms_page_counts_messages_in_plain_words(page: Page, app, sales, sign_in):
    from tests.services.fake_twilio import fake_twilio

    ana = db.session.scalar(select(Contact).where(Contact.first_name == "Ana"))
    from crm.models import Phone, PhoneType
    from crm.services.contacts.saving import save_contact

    mobile = db.session.scalar(select(PhoneType).where(PhoneType.name == "Mobile"))
    ana.phones.append(Phone(phone_type=mobile, country_code="+44", number="7400 123456"))
    save_contact(sales, ana, is_new=False)
    db.session.commit()
    with fake_twilio() as fake:
        app.config.update(fake.settings())
        sign_in(page, sales.email)
        page.goto(f"/admin/contact-messages/{ana.id}/sms/")
        counter = page.locator("#sms-count")
        page.get_by_label("Message").type("See you at 10.")
        expect(counter).to_contain_text("14 of 1600 characters: 1 SMS of 160 characters")
        expect(page.locator("#sms-special")).to_be_hidden()
        page.get_by_label("Message").type(" 🙂")
        expect(counter).to_contain_text("1 SMS of 70 characters")
        expect(page.locator("#sms-special")).to_be_visible()
        assert "GSM" not in counter.inner_text() and "UCS" not in counter.inner_text()


def test_deleting_a_contact_says_it_went_to_the_trash(
    page: Page, sales, make_user, sign_in, fresh_db
):
    sign_in(page, make_user("crm_manager").email)
    page.goto("/admin/contact/")
    snap(page, "contact-list-manager")
    row = page.locator("table.model-list tr", has_text="Bo Lee")
    questions: list[str] = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
    row.locator("button[title='Delete Record']").first.click()
    expect(page.locator(".alert-success")).to_contain_text("Moved to the trash")
    assert questions, "the delete asks first"
    expect(page.locator("table.model-list")).not_to_contain_text("Bo Lee")
    bo = fresh_db().scalars(select(Contact).where(Contact.first_name == "Bo")).one()
    assert bo.deleted_at is not None


def test_an_account_is_given_company_criteria(page: Page, sales, make_user, sign_in, fresh_db):
    sign_in(page, make_user("crm_manager").email)
    globex = db.session.scalar(select(Account).where(Account.name == "Globex"))
    page.goto(f"/admin/account/edit/?id={globex.id}")
    offered = page.locator("select#criteria option").all_inner_texts()
    assert "Key account" in offered and "Newsletter reader" not in offered  # for contacts
    choose_select2_many(page, "criteria", "Key account")
    choose_select2_many(page, "criteria", "Public sector")
    submit(page)
    expect(page.locator(".alert-danger")).to_have_count(0)
    globex = fresh_db().get(Account, globex.id)
    assert sorted(c.name for c in globex.criteria) == ["Key account", "Public sector"]
    page.goto(f"/admin/account/details/?id={globex.id}")
    expect(page.locator("body")).to_contain_text("Key account, Public sector")


def test_keyboard_shortcuts_search_create_edit_and_explain_themselves(page: Page, sales, sign_in):
    sign_in(page, sales.email)
    page.wait_for_load_state()  # the page's scripts have run, as before a person's key
    page.keyboard.press("?")
    expect(page.locator("#crm-shortcuts")).to_be_visible()
    expect(page.locator("#crm-shortcuts")).to_contain_text("New contact")
    page.keyboard.press("Escape")
    expect(page.locator("#crm-shortcuts")).to_be_hidden()
    page.keyboard.press("/")  # from the home page: to the contacts, ready to search
    expect(page).to_have_url(re.compile(r"/admin/contact/\?focus=search"))
    expect(page.locator("input[name='search']")).to_be_focused()
    page.keyboard.type("Smith")  # typed into the box: not taken as shortcuts
    page.keyboard.press("Enter")
    expect(page.locator("table.model-list")).to_contain_text("Ana Smith")
    page.locator("table.model-list").get_by_role("link", name="Ana Smith").click()
    expect(page.locator("#contact-title")).to_contain_text("Ana Smith")
    page.wait_for_load_state()  # the page's scripts have run, as before a person's key
    page.keyboard.press("e")
    expect(page).to_have_url(re.compile(r"/admin/contact/edit/"))
    page.wait_for_load_state()
    page.get_by_label("First name").click()
    page.keyboard.press("n")  # a letter in a field stays a letter
    expect(page).to_have_url(re.compile(r"/admin/contact/edit/"))
    page.locator("h1, h2, h3, .contact-header, body").first.click(position={"x": 5, "y": 5})
    page.keyboard.press("n")
    expect(page).to_have_url(re.compile(r"/admin/contact/new/"))
