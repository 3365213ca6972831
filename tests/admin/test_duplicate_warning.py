"""The create form warns about contacts the new one looks like, before saving it."""

from __future__ import annotations

import html
import re

from sqlalchemy import func, select

from crm.extensions import db
from crm.models import AccessClass, Account, Contact
from crm.models.base import utcnow
from crm.services.platform.api_tokens import create_token
from tests.admin.helpers import contact_form, post_form

NEW = "/admin/contact/new/"


def mobile(number: str) -> list[dict]:
    return [{"type": "Mobile", "country_code": "GB", "number": number}]


def contacts() -> int:
    db.session.expire_all()
    return db.session.scalar(
        select(func.count()).select_from(Contact).where(Contact.deleted_at.is_(None))
    )


def warning(response) -> str:
    """The text of the duplicate warning box ("" when there is none)."""
    page = response.get_data(as_text=True)
    match = re.search(
        r'<div class="alert alert-warning" id="duplicate-warning".*?</ul>', page, re.S
    )
    if not match:
        return ""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", match.group(0))).split())


def plain(**overrides):
    """A create-form post with no phones, addresses or links (and no email unless given)."""
    data = contact_form(email="", website="", **overrides)
    return {k: v for k, v in data.items() if not k.startswith(("phones-", "addresses-", "social_"))}


def test_the_same_email_warns_and_keeps_what_was_typed_until_saved_anyway(
    client, login_as, make_contact
):
    existing = make_contact(first_name="Ann", last_name="Smythe", email="ana.smith@example.com")
    login_as("crm_sales")
    before = contacts()
    data = contact_form(notes="Met at the fair in Leeds.")  # Ana.Smith@Example.com
    response = post_form(client, NEW, data)
    assert response.status_code == 200
    assert contacts() == before  # nothing saved yet
    page = response.get_data(as_text=True)
    shown = warning(response)
    assert "This contact may already exist" in shown
    assert f"Ann Smythe #{existing.id}" in shown
    assert "same email ana.smith@example.com" in shown
    assert f'href="/admin/contact/details/?id={existing.id}"' in page
    assert "Nothing was saved yet" in page  # the flash at the top
    # Everything typed is still in the form, inline rows included.
    for typed in (
        'value="Ana"',
        'value="Smith"',
        'value="7400 123456"',
        "Met at the fair in Leeds.",
    ):
        assert typed in page, typed
    assert 'value="221B Baker Street"' in page
    assert 'name="save_anyway" value="1"' in page
    # "Save anyway" saves it.
    response = post_form(client, NEW, {**data, "save_anyway": "1"})
    assert response.status_code == 302
    assert contacts() == before + 1


def test_the_same_phone_in_another_format_warns(client, login_as, make_contact):
    existing = make_contact(first_name="Bo", last_name="Lee", phones=mobile("07400 123456"))
    login_as("crm_manager")
    response = post_form(client, NEW, contact_form(email="other@example.com"))
    assert f"Bo Lee #{existing.id}" in warning(response)
    assert "same phone +447400123456" in warning(response)


def test_the_same_name_warns_among_consumers_and_within_one_company(client, login_as, make_contact):
    acme, globex = Account(name="Acme"), Account(name="Globex")
    db.session.add_all([acme, globex])
    db.session.commit()
    consumer = make_contact(first_name="ANA", last_name="Smith", title="Dr")
    worker = make_contact(first_name="Ana", last_name="Smith", kind="b2b", account=acme)
    login_as("crm_manager")
    response = post_form(client, NEW, plain(first_name="Smith", last_name="Ána"))  # B2C
    assert f"ANA Smith #{consumer.id}" in warning(response)
    assert "same name" in warning(response)
    assert f"#{worker.id}" not in warning(response)  # a company's employee: not the same
    b2b = plain(kind="b2b", account=str(acme.id))
    response = post_form(client, NEW, b2b)
    assert f"Ana Smith #{worker.id}, Acme" in warning(response)
    assert "same name at Acme" in warning(response)
    assert f'data-json="[{acme.id}, &#34;Acme&#34;]"' in response.get_data(as_text=True)  # kept
    assert f"#{consumer.id}" not in warning(response)
    before = contacts()
    response = post_form(client, NEW, plain(kind="b2b", account=str(globex.id)))
    assert response.status_code == 302  # another company: saved at once
    assert contacts() == before + 1
    response = post_form(client, NEW, plain(first_name="Anabel"))
    assert response.status_code == 302


def test_contacts_out_of_sight_in_the_trash_or_merged_never_warn(
    client, login_as, make_user, make_contact
):
    admin = make_user("crm_admin")
    key = AccessClass(name="Key accounts")
    db.session.add(key)
    db.session.commit()
    make_contact(
        admin, first_name="Kai", last_name="Key", email="ana.smith@example.com", access_class=key
    )
    trashed = make_contact(
        admin, first_name="Tess", last_name="Trash", phones=mobile("07400 123456")
    )
    master = make_contact(admin, first_name="Mo", last_name="Master")
    merged = make_contact(admin, first_name="Ana", last_name="Smith")
    for contact in (trashed, merged):
        contact.deleted_at = utcnow()
    merged.merged_into_id = master.id
    db.session.commit()
    login_as("crm_sales")
    before = contacts()
    response = post_form(client, NEW, contact_form())
    assert warning(response) == ""
    assert response.status_code == 302
    assert contacts() == before + 1


def test_editing_a_contact_does_not_warn(client, login_as, make_contact):
    make_contact(first_name="Ann", last_name="Other", email="ana.smith@example.com")
    ana = make_contact(first_name="Ana", last_name="Smith")
    login_as("crm_manager")
    response = post_form(
        client, f"/admin/contact/edit/?id={ana.id}", contact_form(expected_version="1")
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Contact, ana.id).email == "ana.smith@example.com"


def test_at_most_ten_matches_are_listed(client, login_as, make_contact):
    for index in range(12):
        make_contact(first_name=f"Twin{index}", last_name="Smith", phones=mobile("07400 123456"))
    login_as("crm_manager")
    response = post_form(client, NEW, contact_form(email=""))
    assert warning(response).count("same phone +447400123456") == 10


def test_names_in_the_warning_are_escaped(client, login_as, make_contact):
    evil = Account(name="<b>Evil</b> & Co")
    db.session.add(evil)
    db.session.commit()
    make_contact(first_name="Ana", last_name="Smith", kind="b2b", account=evil)
    login_as("crm_manager")
    response = post_form(client, NEW, plain(kind="b2b", account=str(evil.id)))
    page = response.get_data(as_text=True)
    assert "same name at <b>Evil</b> & Co" in warning(response)
    assert "<b>Evil</b>" not in page
    assert "&lt;b&gt;Evil&lt;/b&gt; &amp; Co" in page


def test_the_api_creates_without_warning(client, make_user, make_contact):
    make_contact(first_name="Ann", last_name="Other", email="ana@example.com")
    sales = make_user("crm_sales")
    _, token = create_token(sales, "Shop")
    db.session.commit()
    response = client.post(
        "/api/v1/contacts",
        headers={"Authorization": f"Bearer {token}"},
        json={"first_name": "Ana", "last_name": "Smith", "email": "ana@example.com"},
    )
    assert response.status_code == 201
