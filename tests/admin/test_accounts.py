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


def test_a_list_beyond_the_exact_count_says_how_many_without_counting_them_all(
    client, login_as, monkeypatch
):
    import crm.services.platform.counting as counting

    db.session.add_all([Account(name=f"Company {n}") for n in range(4)])
    db.session.commit()
    login_as("crm_sales")
    exact = client.get("/admin/account/").get_data(as_text=True)
    assert "List (4)" in exact and 'id="list-count"' not in exact
    monkeypatch.setattr(counting, "COUNT_CAP", 2)
    client.application.config["CRM_COUNT_BUDGET_MS"] = 0  # PostgreSQL: no exact try
    capped = client.get("/admin/account/").get_data(as_text=True)
    assert "List (4)" not in capped
    shown = re.search(r'id="list-count">([^<]*)<', capped).group(1)
    if db.engine.dialect.name == "sqlite":
        assert shown == "more than 2 records"
    else:  # the planner's estimate (or, when it guesses at most the cap, "more than")
        assert re.fullmatch(r"about [\d,]+ records|more than 2 records", shown)
    assert all(f"Company {n}" in capped for n in range(4))  # the page itself is whole


def test_an_accounts_page_reads_its_contacts_addresses_in_a_fixed_number_of_queries(
    client, login_as, make_contact
):
    """The page maps where its contacts are: their addresses come with them, not one query
    per contact."""
    from sqlalchemy import event

    from crm.extensions import db
    from crm.models import Account

    def page_queries(count: int) -> int:
        for index in range(count):
            make_contact(
                first_name=f"P{index}", last_name="Mapped", account="Mapco",
                addresses=[{"type": "Main", "city": "London", "country": "GB"}],
            )  # fmt: skip
        account = db.session.query(Account).filter_by(name="Mapco").one()
        seen: list[str] = []
        listener = lambda *args: seen.append(args[2])  # noqa: E731 - the statement
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            assert client.get(f"/admin/account/details/?id={account.id}").status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return len(seen)

    login_as("crm_manager")
    few = page_queries(2)
    more = page_queries(8)  # ten contacts now
    assert more == few
