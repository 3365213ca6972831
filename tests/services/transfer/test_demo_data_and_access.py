"""services.demo_data (seeding) and services.access (who sees which contacts)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm.errors import DomainError
from crm.extensions import db
from crm.models import Account, Address, AuditEntry, Contact, ContactKind, Phone
from crm.services.platform.access import (
    get_visible_account,
    get_visible_contact,
    visible_accounts,
    visible_contacts,
)
from crm.services.transfer.demo_data import seed_demo_data
from tests.services.conftest import count, history


def people() -> list[tuple]:
    """What a user would see of each contact, in creation order."""
    contacts = db.session.scalars(select(Contact).order_by(Contact.id)).all()
    return [
        (
            c.full_name,
            c.kind,
            c.email,
            c.account.name,
            tuple(p.e164 for p in c.phones),
            tuple((a.city, a.country, a.postal_code) for a in c.addresses),
        )
        for c in contacts
    ]


# ---- demo data --------------------------------------------------------------------------


def test_seeding_needs_an_administrator(make_user):
    make_user("crm_manager")
    make_user("crm_admin", active=False)  # an inactive admin does not count
    with pytest.raises(DomainError, match="Create an administrator first"):
        seed_demo_data(3, seed=1)
    assert count(Contact) == 0


def test_seeding_creates_valid_contacts_of_both_kinds(admin_user):
    assert seed_demo_data(40, seed=7) == 40
    db.session.commit()

    contacts = db.session.scalars(select(Contact)).all()
    assert len(contacts) == 40
    kinds = {c.kind for c in contacts}
    assert kinds == {ContactKind.B2B, ContactKind.B2C}
    for contact in contacts:
        assert contact.first_name and contact.last_name
        assert contact.owner_id == admin_user.id  # the only active user
        assert contact.phones, contact.full_name
        assert all(p.e164 and p.e164.startswith("+") and p.formatted for p in contact.phones)
        assert contact.addresses, contact.full_name
        assert all(len(a.country) == 2 for a in contact.addresses)
        assert contact.email and "@" in contact.email
        assert contact.search_text
        if contact.kind is ContactKind.B2C:
            assert contact.account.is_hidden and contact.account.name == contact.full_name
            assert contact.is_primary
        else:
            assert not contact.account.is_hidden
            assert contact.job_title
    placed = [a for a in db.session.scalars(select(Address)) if a.latitude is not None]
    assert placed, "demo cities are in the gazetteer"
    assert all(a.geocode_source == "gazetteer:city" for a in placed)


def test_seeding_records_history_as_the_administrator(admin_user):
    seed_demo_data(2, seed=3)
    db.session.commit()
    rows = history(action="create", entity_type="contact")
    assert len(rows) == 2
    assert {(r.user_id, r.user_email) for r in history()} == {(admin_user.id, admin_user.email)}


def test_seeding_is_repeatable_with_the_same_seed(admin_user):
    seed_demo_data(12, seed=42)
    db.session.commit()
    first = people()

    # Start again from an empty contact table: the same seed gives the same people.
    for contact in db.session.scalars(select(Contact)):
        db.session.delete(contact)
    db.session.flush()
    for account in db.session.scalars(select(Account)):
        db.session.delete(account)
    db.session.commit()
    assert count(Contact) == 0 and count(Phone) == 0

    seed_demo_data(12, seed=42)
    db.session.commit()
    assert people() == first


def test_different_seeds_give_different_people(admin_user):
    seed_demo_data(6, seed=1)
    db.session.commit()
    first = people()
    seed_demo_data(6, seed=2)
    db.session.commit()
    assert people()[6:] != first


def test_seeding_again_reuses_company_accounts_by_name(admin_user):
    seed_demo_data(15, seed=5)
    seed_demo_data(15, seed=5)
    db.session.commit()
    names = [a.name for a in db.session.scalars(select(Account).where(~Account.is_hidden))]
    assert len(names) == len(set(names))
    assert count(AuditEntry) > 0


# ---- access -----------------------------------------------------------------------------


def test_user_without_a_contact_role_sees_no_contacts(make_user, make_contact):
    contact = make_contact(account="Acme")
    outsider = make_user("crm_list_manager")
    assert db.session.scalars(visible_contacts(outsider)).all() == []
    assert get_visible_contact(outsider, contact.id) is None
    assert db.session.scalars(visible_accounts(outsider)).all() == []
    assert get_visible_account(outsider, contact.account_id) is None


def test_inactive_or_anonymous_users_see_nothing(make_user, make_contact):
    contact = make_contact()
    former = make_user("crm_admin", active=False)
    assert get_visible_contact(former, contact.id) is None
    assert get_visible_contact(None, contact.id) is None
    assert db.session.scalars(visible_contacts(None)).all() == []


def test_contact_roles_see_contacts(make_user, make_contact, subtests):
    first = make_contact(first_name="Ana", account="Acme")
    second = make_contact(first_name="Bo")
    for role in ["crm_sales", "crm_manager", "crm_marketeer", "crm_admin"]:
        with subtests.test(role=role):
            user = make_user(role)
            seen = db.session.scalars(visible_contacts(user).order_by(Contact.id)).all()
            assert [c.id for c in seen] == [first.id, second.id]
            assert get_visible_contact(user, first.id) is first
            assert get_visible_contact(user, str(second.id)) is second
            assert get_visible_account(user, first.account_id).name == "Acme"


def test_unknown_or_malformed_ids_give_none(sales, make_contact, subtests):
    make_contact()
    for bad_id in [None, "", "abc", "1; DROP TABLE contacts", 999_999, -1, 1.5j]:
        with subtests.test(bad_id=bad_id):
            assert get_visible_contact(sales, bad_id) is None
            assert get_visible_account(sales, bad_id) is None
    assert count(Contact) == 1


def test_demo_data_holds_a_few_people_entered_twice(admin_user):
    from crm.services.contacts.duplicates import find_duplicates

    seed_demo_data(150, seed=5)
    db.session.commit()
    groups = find_duplicates(admin_user)
    assert groups, "Possible duplicates has something to show in the demo"
    assert any("same email" in reason for g in groups for reason in g.summary)
