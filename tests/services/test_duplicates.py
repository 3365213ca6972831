"""Finding possible duplicates: keys, blocks, groups, reasons, and what is never proposed."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm.errors import PermissionDenied, ValidationFailed
from crm.extensions import db
from crm.models import AccessClass, Account, Contact
from crm.services.bulk import move_to_trash
from crm.services.duplicates import find_duplicates, mark_not_duplicates, name_key


def mobile(number: str) -> list[dict]:
    return [{"type": "Mobile", "country_code": "GB", "number": number}]


def groups_of(actor) -> list[tuple[list[str], int, list[str]]]:
    names = dict(db.session.execute(select(Contact.id, Contact.first_name)).all())
    return [
        (sorted(names[i] for i in g.contact_ids), g.score, g.summary)
        for g in find_duplicates(actor)
    ]


def test_name_keys_ignore_accents_case_titles_and_order():
    assert name_key("José", None, "Pérez") == name_key("perez", "", "JOSE") == "jose perez"
    assert name_key("Dr. José", None, "Pérez") == "jose perez"
    assert name_key(None, None, "") == ""


def test_the_same_email_or_phone_in_any_format_pairs_contacts(make_user, make_contact):
    manager = make_user("crm_manager")
    make_contact(manager, first_name="Ana", last_name="Smith", email="ANA@example.com")
    make_contact(manager, first_name="Anna", last_name="Smyth", email_secondary="ana@example.com")
    make_contact(manager, first_name="Bo", last_name="Lee", phones=mobile("07400 123456"))
    make_contact(manager, first_name="Bob", last_name="Li", phones=mobile("+44 7400-123-456"))
    make_contact(manager, first_name="Cy", last_name="Other", email="cy@example.com")
    assert groups_of(manager) == [
        (["Ana", "Anna"], 95, ["same email ana@example.com"]),
        (["Bo", "Bob"], 85, ["same phone +447400123456"]),
    ]


def test_similar_names_pair_within_a_company_and_identical_ones_among_consumers(
    make_user, make_contact
):
    manager = make_user("crm_manager")
    acme, globex = Account(name="Acme"), Account(name="Globex")
    db.session.add_all([acme, globex])
    db.session.commit()
    make_contact(manager, first_name="Jon", last_name="Smith", account=acme, kind="b2b")
    make_contact(manager, first_name="John", last_name="Smith", account=acme, kind="b2b")
    make_contact(manager, first_name="John", last_name="Smith", account=globex, kind="b2b")
    make_contact(manager, first_name="José", last_name="Pérez")
    make_contact(manager, first_name="Jose", last_name="Perez", title="Dr")
    make_contact(manager, first_name="Josh", last_name="Perez")  # similar, but a consumer
    found = groups_of(manager)
    assert (["John", "Jon"], 60, ["similar name at Acme"]) in found
    assert (["Jose", "José"], 60, ["similar name"]) in found
    assert len(found) == 2


def test_pairs_join_into_groups_and_the_surest_come_first(make_user, make_contact):
    manager = make_user("crm_manager")
    make_contact(manager, first_name="A", last_name="X", email="a@example.com")
    make_contact(
        manager, first_name="B", last_name="Y", email="a@example.com", phones=mobile("07400 111222")
    )
    make_contact(manager, first_name="C", last_name="Z", phones=mobile("07400 111222"))
    make_contact(manager, first_name="Pia", last_name="Solo")
    make_contact(manager, first_name="Pia", last_name="Solo")
    assert groups_of(manager) == [
        (["A", "B", "C"], 95, ["same email a@example.com", "same phone +447400111222"]),
        (["Pia", "Pia"], 60, ["similar name"]),
    ]


def test_pairs_marked_as_different_people_are_not_proposed_again(make_user, make_contact):
    manager = make_user("crm_manager")
    ana = make_contact(manager, first_name="Ana", last_name="Smith", email="ana@example.com")
    anna = make_contact(manager, first_name="Anna", last_name="Smith", email="ana@example.com")
    assert mark_not_duplicates(manager, [ana.id, anna.id]) == 1
    db.session.commit()
    assert groups_of(manager) == []
    assert mark_not_duplicates(manager, [anna.id, ana.id]) == 0  # remembered once
    with pytest.raises(PermissionDenied):
        mark_not_duplicates(make_user("crm_sales"), [ana.id, anna.id])
    with pytest.raises(ValidationFailed):
        mark_not_duplicates(manager, [ana.id])


def test_only_contacts_the_user_sees_and_not_in_the_trash(make_user, make_contact):
    admin, sales = make_user("crm_admin"), make_user("crm_sales")
    key = AccessClass(name="Key accounts")
    db.session.add(key)
    db.session.commit()
    make_contact(admin, first_name="Kai", last_name="A", email="k@example.com", access_class=key)
    make_contact(admin, first_name="Kay", last_name="B", email="k@example.com")
    make_contact(admin, first_name="Tom", last_name="C", email="t@example.com")
    gone = make_contact(admin, first_name="Tim", last_name="D", email="t@example.com")
    move_to_trash(admin, select(Contact.id).where(Contact.id == gone.id))
    db.session.commit()
    assert [names for names, _, _ in groups_of(admin)] == [["Kai", "Kay"]]
    assert groups_of(sales) == []  # Kai is out of sight, Tim in the trash
