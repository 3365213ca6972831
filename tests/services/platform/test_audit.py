"""services.audit: who changed what, written in the same transaction, never rewritten."""

from __future__ import annotations

import pytest
from sqlalchemy import exc, text

from crm.errors import ValidationFailed
from crm.extensions import db
from crm.models import Account, AuditEntry, Contact
from crm.services.contacts.saving import apply_contact_rules, create_contact
from crm.services.contacts.trash import purge_contact
from crm.services.platform.audit import acting_as
from tests.services.conftest import an_admin, count, history, reload

FULL = {
    "first_name": "Ana",
    "last_name": "Smith",
    "email": "ana@example.com",
    "phones": [{"type": "Work", "country_code": "GB", "number": "020 7946 0958"}],
    "addresses": [{"city": "Bonn", "country": "DE"}],
    "social_links": [{"platform": "LinkedIn", "handle": "ana-smith"}],
}


def save(actor, contact: Contact) -> None:
    with db.session.no_autoflush:
        apply_contact_rules(actor, contact, is_new=False)
    db.session.commit()


def test_creating_a_contact_records_every_row_with_who_and_the_values(manager):
    contact = create_contact(manager, FULL)
    db.session.commit()

    rows = history(action="create")
    kinds = sorted(row.entity_type for row in rows)
    assert kinds == ["account", "address", "contact", "phone", "social_link"]
    for row in rows:
        assert (row.user_id, row.user_email) == (manager.id, manager.email), row.entity_type
        assert row.at is not None

    (made,) = history(action="create", entity_type="contact")
    assert made.entity_id == contact.id
    assert made.contact_id == contact.id
    assert made.account_id == contact.account_id
    assert made.summary == "Create contact Ana Smith"
    assert made.changes["first_name"] == [None, "Ana"]
    assert made.changes["email"] == [None, "ana@example.com"]
    assert made.changes["kind"] == [None, "b2c"]
    assert made.changes["owner_id"] == [None, manager.id]
    assert "version" not in made.changes and "search_text" not in made.changes

    (phone,) = history(action="create", entity_type="phone")
    assert phone.entity_id == contact.phones[0].id
    assert phone.contact_id == contact.id
    assert phone.changes["number"] == [None, "020 7946 0958"]
    assert phone.changes["e164"] == [None, "+442079460958"]

    (link,) = history(action="create", entity_type="social_link")
    assert link.contact_id == contact.id
    assert link.changes["url"] == [None, "https://www.linkedin.com/in/ana-smith"]

    (account,) = history(action="create", entity_type="account")
    assert account.account_id == contact.account_id
    assert account.changes["name"] == [None, "Ana Smith"]
    assert account.changes["is_hidden"] == [None, True]


def test_acting_as_names_the_user_for_changes_made_outside_a_request(manager, admin_user):
    with acting_as(admin_user):
        create_contact(manager, {"first_name": "Ana", "last_name": "Smith"})
        db.session.commit()
    assert {(r.user_id, r.user_email) for r in history()} == {(admin_user.id, admin_user.email)}


def test_the_actor_of_an_edit_is_recorded_when_the_boundary_commits(manager, sales, make_contact):
    contact = make_contact(manager)
    contact.job_title = "Buyer"
    with db.session.no_autoflush:
        apply_contact_rules(sales, contact, is_new=False)
    db.session.commit()  # the flush happens here, after the service returned

    (row,) = history(action="update", entity_type="contact")
    assert (row.user_id, row.user_email) == (sales.id, sales.email)
    assert row.changes == {"job_title": [None, "Buyer"]}


def test_the_noted_actor_does_not_outlive_its_transaction(manager, make_contact):
    contact = make_contact(manager)
    contact.job_title = "Buyer"
    db.session.commit()  # a later change made without any service call
    (row,) = history(action="update", entity_type="contact")
    assert (row.user_id, row.user_email) == (None, None)


def test_editing_an_inline_phone_writes_one_update_row_for_it(manager, make_contact):
    contact = make_contact(**FULL)
    before = count(AuditEntry)

    contact.phones[0].number = "020 7946 0000"
    save(manager, contact)

    rows = history()[before:]
    assert [(r.action, r.entity_type) for r in rows] == [("update", "phone")]
    (row,) = rows
    assert row.entity_id == contact.phones[0].id
    assert row.contact_id == contact.id
    assert row.user_id == manager.id
    assert row.changes["number"] == ["020 7946 0958", "020 7946 0000"]
    assert row.changes["e164"] == ["+442079460958", "+442079460000"]
    assert set(row.changes) == {"number", "e164", "formatted"}


def test_saving_without_changes_writes_no_history(manager, make_contact):
    contact = make_contact(**FULL)
    before = count(AuditEntry)
    save(manager, contact)
    assert count(AuditEntry) == before


def test_renaming_records_the_contact_and_its_hidden_account(manager, make_contact):
    contact = make_contact(first_name="Ana", last_name="Smith")
    before = count(AuditEntry)
    contact.last_name = "Jones"
    save(manager, contact)

    rows = {r.entity_type: r for r in history()[before:]}
    assert set(rows) == {"contact", "account"}
    assert rows["contact"].changes == {"last_name": ["Smith", "Jones"]}
    assert rows["account"].changes == {"name": ["Ana Smith", "Ana Jones"]}
    assert rows["account"].account_id == contact.account_id


def test_deleting_a_contact_records_it_and_its_children(manager, make_contact):
    contact = make_contact(**FULL)
    ids = {
        "contact": contact.id,
        "phone": contact.phones[0].id,
        "address": contact.addresses[0].id,
        "social_link": contact.social_links[0].id,
        "account": contact.account_id,
    }
    purger = an_admin()
    purge_contact(purger, contact)
    db.session.commit()

    rows = history(action="delete")
    assert {r.entity_type: r.entity_id for r in rows} == ids
    assert len(rows) == 5
    for row in rows:
        assert row.user_id == purger.id
        if row.entity_type != "account":
            assert row.contact_id == ids["contact"], row.entity_type
    gone = {r.entity_type: r for r in rows}
    assert gone["contact"].changes["first_name"] == ["Ana", None]
    assert gone["phone"].changes["number"] == ["020 7946 0958", None]
    assert gone["address"].changes["city"] == ["Bonn", None]


def test_history_of_a_deleted_contact_is_kept(manager, make_contact):
    contact = make_contact(**FULL)
    contact_id = contact.id
    purge_contact(an_admin(), contact)
    db.session.commit()
    actions = [(r.action, r.entity_type) for r in history(contact_id=contact_id)]
    assert ("create", "contact") in actions
    assert ("delete", "contact") in actions
    assert ("create", "phone") in actions and ("delete", "phone") in actions


def test_a_rolled_back_change_leaves_no_history(manager):
    create_contact(manager, FULL)  # flushed: the history rows are written in this transaction
    assert count(AuditEntry) == 5
    db.session.rollback()
    assert count(AuditEntry) == 0
    assert count(Contact) == 0

    # The next transaction starts clean: nothing pending from the rolled-back one.
    create_contact(manager, {"first_name": "Bo", "last_name": "Berg"})
    db.session.commit()
    assert sorted(r.entity_type for r in history()) == ["account", "contact"]


def test_a_refused_contact_leaves_no_history(manager):
    with pytest.raises(ValidationFailed):
        create_contact(manager, {**FULL, "email": "nope"})
    db.session.rollback()
    assert count(AuditEntry) == 0


def test_a_failed_flush_leaves_no_history(manager, make_contact):
    contact = make_contact(first_name="Ana")
    contact.account_id = 999_999  # no such account: the database refuses the UPDATE
    with pytest.raises(exc.IntegrityError):
        db.session.commit()
    db.session.rollback()
    assert [r.action for r in history()] == ["create", "create"]


def test_changing_linked_accounts_records_the_id_lists(manager, make_contact):
    contact = make_contact(account="Acme")
    globex = Account(name="Globex")
    initech = Account(name="Initech")
    db.session.add_all([globex, initech])
    db.session.commit()
    before = count(AuditEntry)

    contact.linked_accounts = [initech, globex]
    save(manager, contact)
    (row,) = history()[before:]
    assert row.entity_type == "contact"
    assert row.changes == {"linked_accounts": [[], sorted([globex.id, initech.id])]}

    contact = reload(contact)
    contact.linked_accounts = [globex]
    save(manager, contact)
    (row,) = history()[before + 1 :]
    assert row.changes == {"linked_accounts": [sorted([globex.id, initech.id]), [globex.id]]}


def test_history_cannot_be_changed_through_the_orm(manager, make_contact):
    make_contact()
    entry = history()[0]
    entry.summary = "nothing happened"
    with pytest.raises(PermissionError, match="append-only"):
        db.session.flush()
    db.session.rollback()

    entry = history()[0]
    db.session.delete(entry)
    with pytest.raises(PermissionError, match="append-only"):
        db.session.flush()
    db.session.rollback()
    assert count(AuditEntry) == 2


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_entries SET summary = 'nothing happened'", "DELETE FROM audit_entries"],
)
def test_history_cannot_be_changed_with_raw_sql(make_contact, statement):
    make_contact()
    with pytest.raises(exc.DBAPIError, match="append-only"):
        db.session.execute(text(statement))
    db.session.rollback()
    assert count(AuditEntry) == 2
    assert not [r for r in history() if r.summary == "nothing happened"]


def test_switching_to_b2b_records_the_new_account_and_the_removed_hidden_one(manager, make_contact):
    acme = make_contact(first_name="Bo", account="Acme").account
    contact = make_contact(first_name="Ana", last_name="Smith")
    hidden_id = contact.account_id
    before = count(AuditEntry)

    contact.kind = "b2b"
    contact.account = acme
    save(manager, contact)

    rows = {(r.action, r.entity_type): r for r in history()[before:]}
    assert set(rows) == {("update", "contact"), ("delete", "account")}
    changed = rows[("update", "contact")].changes
    assert changed["kind"] == ["b2c", "b2b"]
    assert changed["account_id"] == [hidden_id, acme.id]
    assert "is_primary" not in changed  # Acme has no primary contact: Ana stays primary
    assert rows[("delete", "account")].entity_id == hidden_id
    assert rows[("delete", "account")].changes["name"] == ["Ana Smith", None]
