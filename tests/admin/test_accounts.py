"""The Accounts admin: companies, their contacts, and the hidden B2C accounts."""

from __future__ import annotations

import re

from crm.extensions import db
from crm.models import Account
from tests.admin.helpers import field_errors, post_form
from tests.conftest import csrf_from


def test_accounts_list_counts_and_details_list_stored_and_linked_contacts(
    client, login_as, make_contact
):
    acme = Account(name="Acme Ltd")
    globex = Account(name="Globex")
    db.session.add_all([acme, globex])
    db.session.commit()
    make_contact(first_name="Ana", last_name="Smith", account=acme)
    make_contact(first_name="Bob", last_name="Jones", account=globex, linked_accounts=[acme])
    make_contact(first_name="Cleo", last_name="Consumer")  # B2C: hidden account
    login_as("crm_sales")
    listing = client.get("/admin/account/").get_data(as_text=True)
    assert "Acme Ltd" in listing and "Globex" in listing
    assert "Cleo Consumer" not in listing  # hidden accounts are not companies
    acme_row = listing[listing.index("Acme Ltd") :]
    assert re.search(r"2 contact\(s\)", acme_row[:2000])
    details = client.get(f"/admin/account/details/?id={acme.id}").get_data(as_text=True)
    assert "Ana Smith" in details and "Bob Jones" in details
    hidden = db.session.query(Account).filter_by(is_hidden=True).one()
    assert client.get(f"/admin/account/details/?id={hidden.id}").status_code == 404


def test_create_account_with_validation(client, login_as):
    login_as("crm_sales")
    bad = post_form(client, "/admin/account/new/", {"name": "  ", "website": "nope nope"})
    errors = field_errors(bad.get_data(as_text=True))
    assert "The account name is required." in errors or "This field is required." in errors
    assert db.session.query(Account).count() == 0
    good = post_form(
        client, "/admin/account/new/", {"name": "Initech", "website": "initech.example"}
    )
    assert good.status_code == 302
    account = db.session.query(Account).one()
    assert account.website == "https://initech.example" and not account.is_hidden


def test_account_holding_contacts_cannot_be_deleted(client, login_as, make_contact):
    acme = Account(name="Acme Ltd")
    db.session.add(acme)
    db.session.commit()
    make_contact(account=acme)
    login_as("crm_manager")
    token = csrf_from(client.get("/admin/account/").get_data(as_text=True))
    response = client.post(
        "/admin/account/delete/",
        data={"id": acme.id, "csrf_token": token},
        follow_redirects=True,
    )
    assert "still holds 1 contact(s)" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Account, acme.id) is not None
