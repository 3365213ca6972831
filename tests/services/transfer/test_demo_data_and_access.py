"""services.demo_data (seeding) and services.access (who sees which contacts)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from crm.errors import DomainError
from crm.extensions import db
from crm.models import (
    Account,
    Address,
    AuditEntry,
    Contact,
    ContactKind,
    MarketingListMember,
    Phone,
    Segment,
    Tag,
    User,
    contact_tags,
)
from crm.services.platform.access import (
    get_visible_account,
    get_visible_contact,
    visible_accounts,
    visible_contacts,
)
from crm.services.transfer.demo_data import DEMO_TEAM, load_demo, seed_demo_data
from tests.conftest import login
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


# ---- the whole demo (what `make run` loads) ----------------------------------------------

# Every list page of the admin, and how a row of it is recognised: a newcomer's first look
# at each shows something in it.
MODEL_LIST = r"<table[^>]*model-list"
DEMO_PAGES = {
    "/admin/": r'class="list-group-item py-2 crm-activity"',
    "/admin/contact/": MODEL_LIST,
    "/admin/account/": MODEL_LIST,
    "/admin/lead/": MODEL_LIST,
    "/admin/deal/": MODEL_LIST,
    "/admin/order/": MODEL_LIST,
    "/admin/payment/": MODEL_LIST,
    "/admin/tasks/": MODEL_LIST,
    "/admin/appointments/": MODEL_LIST,
    "/admin/interactions/": MODEL_LIST,
    "/admin/tags/": r'class="crm-tag"',
    "/admin/segments/": MODEL_LIST,
    "/admin/marketing-lists/": MODEL_LIST,
    # A user (not "nobody") in charge of some contacts.
    "/admin/responsibles/": r'(?s)class="crm-responsible">(?:(?!</tr>).)*count">[1-9]',
    "/admin/duplicates/": r'class="card mb-3 duplicate-group"',
    "/admin/trash/": MODEL_LIST,
    "/admin/history/": MODEL_LIST,
}


def rows_on(html: str, marker: str) -> int:
    """How many rows the page shows: a model list's body rows, else the marker's hits."""
    if marker != MODEL_LIST:
        return len(re.findall(marker, html))
    table = re.search(r"<table[^>]*model-list.*?</table>", html, re.S)
    assert table, "no list on the page"
    if 'colspan="999"' in table.group(0):  # Flask-Admin's "There are no items" row
        return 0
    return table.group(0).count("<tr") - 1  # less the header


def test_every_list_page_shows_rows_after_the_demo(admin_user, client, subtests):
    loaded = load_demo(300, seed=1)  # what `make run` loads
    db.session.commit()
    assert loaded.contacts == 300
    assert login(client, admin_user.email).status_code == 302
    for url, marker in DEMO_PAGES.items():
        with subtests.test(page=url):
            page = client.get(url)
            assert page.status_code == 200
            assert rows_on(page.get_data(as_text=True), marker) >= 1


def test_the_demo_spreads_contacts_over_a_team(admin_user):
    loaded = load_demo(60, seed=1)
    db.session.commit()
    team = {u.email: u for u in db.session.scalars(select(User))}
    assert [u.email for u in loaded.new_users] == [email for email, _, _ in DEMO_TEAM]
    for email, name, role in DEMO_TEAM:
        assert team[email].full_name == name and team[email].role_names == {role}
    # Owners and responsible users: the whole team, not only the administrator.
    owners = set(db.session.scalars(select(Contact.owner_id).distinct()))
    assert owners == {u.id for u in team.values()}
    responsible = set(db.session.scalars(select(Contact.responsible_id).distinct())) - {None}
    sales_and_manager = {team[e].id for e, _, r in DEMO_TEAM if r != "crm_marketeer"}
    assert responsible == sales_and_manager
    # Each contact's creation is recorded as its owner's work.
    creations = history(action="create", entity_type="contact")
    by_contact = {c.id: c.owner_id for c in db.session.scalars(select(Contact))}
    assert all(e.user_id == by_contact[e.contact_id] for e in creations)
    # Tags on contacts, segments with members, a marketing list with members.
    tagged = db.session.scalar(select(func.count(func.distinct(contact_tags.c.contact_id))))
    assert count(Tag) >= 5 and tagged >= 10
    assert {s.name for s in db.session.scalars(select(Segment))} == {
        "Spring trade fair invitations",
        "VIP customers",
    }
    assert count(MarketingListMember) >= 5
    # And the test entry the manager moved to the trash.
    trashed = db.session.scalars(select(Contact).where(Contact.deleted_at.is_not(None))).all()
    assert [(c.full_name, c.deleted_by_id) for c in trashed] == [
        ("Test Entry", team["maria.keller@example.com"].id)
    ]


def test_demo_team_passwords_are_generated_not_fixed(admin_user):
    """No demo password is written anywhere: each load makes new ones."""
    first = {u.email: u.password for u in load_demo(2, seed=1).new_users}
    assert len(set(first.values())) == len(DEMO_TEAM)
    db.session.rollback()
    second = {u.email: u.password for u in load_demo(2, seed=1).new_users}
    assert first.keys() == second.keys()
    assert not set(first.values()) & set(second.values())


def test_the_demo_keeps_an_existing_team_member(admin_user, make_user):
    make_user("crm_sales", email="tom.baker@example.com")
    loaded = load_demo(2, seed=1)
    assert "tom.baker@example.com" not in {u.email for u in loaded.new_users}
    assert len(loaded.new_users) == len(DEMO_TEAM) - 1


def test_the_demo_needs_an_administrator_and_adds_no_one_without(make_user):
    make_user("crm_sales")
    with pytest.raises(DomainError, match="Create an administrator first"):
        load_demo(3, seed=1)
    assert count(User) == 1 and count(Contact) == 0
