"""services.search (what the list's search box finds) and services.dashboard (home figures)."""

from __future__ import annotations

from sqlalchemy import select

from crm.extensions import db
from crm.models import Contact, CustomerStatus
from crm.services.contacts.dashboard import dashboard_figures
from crm.services.contacts.saving import apply_contact_rules
from crm.services.contacts.search import contact_search_clause
from crm.services.platform.access import visible_contacts


def found(user, text: str) -> list[str]:
    query = visible_contacts(user).order_by(Contact.id)
    clause = contact_search_clause(text)
    if clause is not None:
        query = query.where(clause)
    return [c.full_name for c in db.session.scalars(query)]


def test_search_finds_parts_of_names_and_emails(manager, make_contact, subtests):
    make_contact(first_name="Ana", last_name="Smith", email="ana@acme.example.com")
    make_contact(first_name="Bo", last_name="Smithers", email_secondary="bo@globex.example.com")
    make_contact(first_name="Jürgen", last_name="Müller")
    for text, names in [
        ("ith", ["Ana Smith", "Bo Smithers"]),
        ("ana smi", ["Ana Smith"]),
        ("SMITH", ["Ana Smith", "Bo Smithers"]),
        ("globex", ["Bo Smithers"]),
        ("müller", ["Jürgen Müller"]),
        ("smith nobody", []),
        ("%", []),
        ("_", []),
        ("", ["Ana Smith", "Bo Smithers", "Jürgen Müller"]),
        ("   ", ["Ana Smith", "Bo Smithers", "Jürgen Müller"]),
    ]:
        with subtests.test(text=text):
            assert found(manager, text) == names


def test_search_sees_a_renamed_contact_under_its_new_name(manager, make_contact):
    contact = make_contact(first_name="Ana", last_name="Smith")
    contact.last_name = "Jones"
    with db.session.no_autoflush:
        apply_contact_rules(manager, contact, is_new=False)
    db.session.commit()
    assert found(manager, "jones") == ["Ana Jones"]
    assert found(manager, "smith") == []


def test_search_ignores_words_beyond_the_eighth(manager, make_contact):
    make_contact(first_name="Ana", last_name="Smith")
    assert found(manager, "a " * 8 + "nobody") == ["Ana Smith"]


def test_search_respects_who_may_see_contacts(make_user, make_contact):
    make_contact(first_name="Ana", last_name="Smith")
    assert found(make_user("crm_list_manager"), "ana") == []


def test_dashboard_counts_what_the_user_may_see(manager, make_user, make_contact):
    make_contact(first_name="Ana", customer_status=CustomerStatus.CUSTOMER, account="Acme")
    make_contact(first_name="Bo", customer_status=CustomerStatus.PROSPECT, account="Acme")
    make_contact(first_name="Cy", customer_status=CustomerStatus.CUSTOMER)
    make_contact(first_name="Di", customer_status=CustomerStatus.CUSTOMER, active=False)

    figures = dashboard_figures(manager)
    assert figures["active_contacts"] == "3"
    assert figures["customers"] == "2"
    assert figures["prospects"] == "1"
    assert figures["accounts"] == "1"  # Acme; hidden personal accounts are not counted
    assert {c.first_name for c in figures["recent"]} == {"Ana", "Bo", "Cy", "Di"}

    nothing = dashboard_figures(make_user("crm_list_manager"))
    assert (nothing["active_contacts"], nothing["accounts"], nothing["recent"]) == ("0", "0", [])


def test_dashboard_figures_stop_counting_at_the_cap(manager, make_contact, monkeypatch):
    import crm.services.contacts.dashboard as dashboard
    import crm.services.platform.counting as counting

    for name in ("Ana", "Bo", "Cy"):
        make_contact(first_name=name, customer_status=CustomerStatus.CUSTOMER)
    monkeypatch.setattr(counting, "COUNT_CAP", 2)
    figures = dashboard.dashboard_figures(manager)
    if db.engine.dialect.name == "sqlite":
        assert figures["active_contacts"] == "2+" and figures["customers"] == "2+"
    else:  # PostgreSQL: exact while the count fits its time budget
        assert figures["active_contacts"] == "3" and figures["customers"] == "3"
    assert figures["prospects"] == "0"


def test_contact_properties_shown_in_lists(make_contact):
    contact = make_contact(
        first_name=" Ana ",
        middle_name="María",
        last_name="López",
        phones=[
            {"type": "Work", "country_code": "GB", "number": "020 7946 0958", "extension": "7"}
        ],
        addresses=[
            {"street": "Hauptstraße 1", "postal_code": "53111", "city": "Bonn", "country": "DE"}
        ],
        social_links=[{"platform": "GitHub", "handle": "ana"}],
    )
    assert str(contact) == "Ana María López"
    assert str(contact.phones[0]) == "Work: +44 20 7946 0958 ext. 7"
    assert str(contact.addresses[0]) == "Main: Hauptstraße 1, 53111 Bonn, DE"
    assert str(contact.social_links[0]) == "GitHub: https://github.com/ana"
    assert db.session.scalar(select(Contact.search_text)) == (
        "ana maría lópez maria lopez 442079460958 02079460958"
    )
