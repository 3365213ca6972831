"""Finding possible duplicates: keys, blocks, groups, reasons, and what is never proposed."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm.errors import PermissionDenied, ValidationFailed
from crm.extensions import db
from crm.models import AccessClass, Account, Contact, Phone
from crm.models.base import utcnow
from crm.services.contacts.bulk import move_to_trash
from crm.services.contacts.duplicates import (
    find_duplicates,
    mark_not_duplicates,
    matches_for,
    name_key,
)
from crm.services.merge.old_links import MAX_HOPS, merge_successor


def contact_successor(actor, contact_id):
    """Where a merged contact's old link leads (crm.services.merge.old_links)."""
    return merge_successor(actor, Contact, contact_id)


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


# ---- one new contact against the existing ones (the create form's warning) ---------------
def new_contact(actor, **data) -> Contact:
    """A contact as the create form has it when the warning is decided: checked by the
    contact rules, in the session, not saved."""
    from crm.services.contacts.saving import apply_contact_rules

    phones = data.pop("phones", [])
    contact = Contact(**data)
    for number in phones:
        contact.phones.append(Phone(phone_type=_mobile_type(), country_code="GB", number=number))
    db.session.add(contact)
    apply_contact_rules(actor, contact, is_new=True)
    return contact


def _mobile_type():
    from crm.models import PhoneType

    return db.session.scalar(select(PhoneType).where(PhoneType.name == "Mobile"))


def matched(actor, contact) -> list[tuple[str, list[str]]]:
    found = matches_for(actor, contact, [p.e164 for p in contact.phones])
    return [(c.first_name, reasons) for c, reasons in found]


def test_a_new_contact_matches_by_email_phone_or_name_key(make_user, make_contact):
    manager = make_user("crm_manager")
    make_contact(manager, first_name="Ann", last_name="A", email_secondary="ana@example.com")
    make_contact(manager, first_name="Bea", last_name="B", phones=mobile("+44 7400 123456"))
    make_contact(manager, first_name="José", last_name="Pérez", email="jp@example.com")
    make_contact(manager, first_name="Other", last_name="Person", email="o@example.com")
    fresh = new_contact(
        manager,
        first_name="Perez",
        last_name="JOSE",
        email="ANA@example.com",
        email_secondary="jp@example.com",
        phones=["07400 123456"],
    )
    assert matched(manager, fresh) == [
        ("José", ["same email jp@example.com", "same name"]),
        ("Ann", ["same email ana@example.com"]),
        ("Bea", ["same phone +447400123456"]),
    ]
    db.session.rollback()


def test_a_b2b_name_matches_only_within_its_company(make_user, make_contact):
    manager = make_user("crm_manager")
    acme, globex = Account(name="Acme"), Account(name="Globex")
    db.session.add_all([acme, globex])
    db.session.commit()
    make_contact(manager, first_name="Ana", last_name="Smith", kind="b2b", account=acme)
    make_contact(manager, first_name="Ana", last_name="Smith", kind="b2b", account=globex)
    make_contact(manager, first_name="Ana", last_name="Smith")  # a consumer
    make_contact(manager, first_name="Anna", last_name="Smith", kind="b2b", account=acme)
    fresh = new_contact(manager, first_name="ana", last_name="SMITH", kind="b2b", account=acme)
    found = matches_for(manager, fresh, [])
    assert [(c.account.name, r) for c, r in found] == [("Acme", ["same name at Acme"])]
    db.session.rollback()


def test_matches_are_visible_live_bounded_and_never_the_contact_itself(make_user, make_contact):
    admin, sales = make_user("crm_admin"), make_user("crm_sales")
    key = AccessClass(name="Key accounts")
    db.session.add(key)
    db.session.commit()
    make_contact(admin, first_name="Kai", last_name="K", email="x@example.com", access_class=key)
    gone = make_contact(admin, first_name="Tim", last_name="T", email="x@example.com")
    master = make_contact(admin, first_name="Mo", last_name="M")
    merged = make_contact(admin, first_name="Max", last_name="M", email="x@example.com")
    move_to_trash(admin, select(Contact.id).where(Contact.id == gone.id))
    merged.merged_into_id, merged.deleted_at = master.id, utcnow()
    db.session.commit()
    fresh = new_contact(sales, first_name="New", last_name="N", email="x@example.com")
    assert matched(sales, fresh) == []  # out of sight, in the trash, merged
    assert [name for name, _ in matched(admin, fresh)] == ["Kai"]
    db.session.rollback()
    for index in range(12):
        make_contact(admin, first_name=f"Twin{index}", last_name="T", email="twin@example.com")
    twin = db.session.scalar(select(Contact).where(Contact.first_name == "Twin0"))
    found = matches_for(admin, twin, [])
    assert len(found) == 10
    assert twin.id not in [c.id for c, _ in found]


# ---- old ids of merged contacts -------------------------------------------------------------
def test_a_merged_contact_leads_to_the_live_contact_it_ended_up_in(make_user, make_contact):
    admin, sales = make_user("crm_admin"), make_user("crm_sales")
    key = AccessClass(name="Key accounts")
    db.session.add(key)
    db.session.commit()
    first, second, third = (make_contact(admin, first_name=n) for n in ("One", "Two", "Three"))
    for merged, master in ((first, second), (second, third)):
        merged.merged_into_id, merged.deleted_at = master.id, utcnow()
    db.session.commit()
    assert contact_successor(sales, first.id) == (first, third)
    assert contact_successor(sales, str(second.id)) == (second, third)
    assert contact_successor(sales, third.id) is None  # not merged
    assert contact_successor(sales, "x") is None
    assert contact_successor(sales, 999_999) is None
    third.access_class = key  # out of the sales user's sight
    db.session.commit()
    assert contact_successor(sales, first.id) is None
    assert contact_successor(admin, first.id) == (first, third)
    third.merged_into_id = first.id  # a loop (never made by a merge) leads nowhere
    db.session.commit()
    assert contact_successor(admin, first.id) is None


def test_a_chain_of_merges_too_long_leads_nowhere(make_user, make_contact):
    admin = make_user("crm_admin")
    chain = [make_contact(admin, first_name=f"C{i}") for i in range(MAX_HOPS + 2)]
    for merged, master in zip(chain, chain[1:], strict=False):
        merged.merged_into_id, merged.deleted_at = master.id, utcnow()
    db.session.commit()
    assert contact_successor(admin, chain[1].id) == (chain[1], chain[-1])  # MAX_HOPS deep
    assert contact_successor(admin, chain[0].id) is None  # one more


def test_compare_refuses_sets_over_its_limit(make_user, make_contact):
    from crm.services.contacts.duplicates import compare

    manager = make_user("crm_manager")
    make_contact(manager, first_name="Ana", last_name="Smith", email="ana@example.com")
    make_contact(manager, first_name="Anna", last_name="Smith", email="ana@example.com")
    found = compare(manager)
    assert (found.total, found.too_many, len(found.groups)) == (2, False, 1)
    capped = compare(manager, max_compared=1)
    assert capped.too_many and capped.groups == []
