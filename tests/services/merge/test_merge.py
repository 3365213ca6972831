"""Merging contacts: field choices, every related row moved to the master, tombstones,
history, optimistic locking, accounts following, and undo."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm.errors import DomainError, NotFound, PermissionDenied, StaleEditError, ValidationFailed
from crm.extensions import db
from crm.models import (
    Account,
    AuditEntry,
    Contact,
    ContactKind,
    MergeRecord,
    NotDuplicate,
    Tag,
    contact_tags,
)
from crm.services.contacts.bulk import add_tags
from crm.services.contacts.duplicates import mark_not_duplicates
from crm.services.merge.contacts import merge_contacts
from crm.services.merge.plan import contact_plan
from crm.services.merge.undo import undo_merge, undo_refusal
from tests.services.conftest import an_admin, reload


def mobile(*numbers: str) -> list[dict]:
    return [{"type": "Mobile", "country_code": "GB", "number": n} for n in numbers]


def tags_of(contact_id: int) -> list[str]:
    return sorted(
        db.session.scalars(
            select(Tag.name)
            .join(contact_tags, contact_tags.c.tag_id == Tag.id)
            .where(contact_tags.c.contact_id == contact_id)
        )
    )


def tag(actor, contact, *names):
    add_tags(actor, select(Contact.id).where(Contact.id == contact.id), list(names))
    db.session.commit()


def plan_field(plan, name):
    return next(fp for fp in plan.fields if fp.field.name == name)


def test_the_plan_preselects_the_masters_values_and_never_an_empty_one(manager, make_contact):
    a = make_contact(manager, first_name="Ana", last_name="Smith", email="ana@example.com")
    b = make_contact(
        manager, first_name="Anna", last_name="Smith", job_title="CEO", email="anna@work.com"
    )
    plan = contact_plan(manager, [b.id, a.id], master_id=a.id)
    assert plan.master.id == a.id
    first = plan_field(plan, "first_name")
    assert first.chosen == str(a.id) and first.differs
    job = plan_field(plan, "job_title")  # the master has none: the filled one wins
    assert job.cells == {a.id: "", b.id: "CEO"} and job.chosen == str(b.id)
    second = plan_field(plan, "email_secondary")  # the other email is offered, chosen
    assert second.option(second.chosen).value == "anna@work.com"
    assert not plan_field(plan, "last_name").differs


def test_merge_moves_everything_and_leaves_a_tombstone(manager, make_contact):
    a = make_contact(manager, first_name="Ana", last_name="Smith", phones=mobile("07400 111111"))
    b = make_contact(
        manager,
        first_name="Anna",
        last_name="Smith",
        job_title="CEO",
        email="anna@example.com",
        phones=mobile("+44 7400 111111", "07400 222222"),
    )
    tag(manager, a, "Loyal")
    tag(manager, b, "Loyal", "VIP")
    record = merge_contacts(manager, [a.id, b.id], master_id=a.id)
    db.session.commit()

    master, gone = reload(a), reload(b)
    assert master.job_title == "CEO" and master.email == "anna@example.com"
    assert sorted(p.e164 for p in master.phones) == ["+447400111111", "+447400222222"]
    assert tags_of(master.id) == ["Loyal", "VIP"]
    # The duplicate phone and tag stay with the merged contact: nothing is deleted.
    assert [p.e164 for p in gone.phones] == ["+447400111111"]
    assert tags_of(gone.id) == ["Loyal"]
    assert gone.merged_into_id == master.id and gone.deleted_at is not None
    assert master.search_text.count("anna@example.com") == 1
    assert record.merged_ids == [b.id] and record.master_id == a.id
    assert (
        record.fields["job_title"]["before"] == "" and record.fields["job_title"]["after"] == "CEO"
    )
    entry = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "merge", AuditEntry.contact_id == a.id)
    ).one()
    assert entry.changes["fields"]["job_title"] == ["", "CEO"]
    assert entry.changes["moved"]["phones"] == 1
    # The merged contact is in no list, nor in the trash.
    from crm.services.platform.access import contact_visibility

    assert not db.session.scalar(
        select(Contact.id).where(Contact.id == b.id, contact_visibility(manager))
    )
    assert not db.session.scalar(
        select(Contact.id).where(Contact.id == b.id, contact_visibility(manager, trashed=True))
    )


def test_undo_puts_everything_back(manager, make_contact):
    a = make_contact(manager, first_name="Ana", last_name="Smith", phones=mobile("07400 111111"))
    b = make_contact(
        manager,
        first_name="Anna",
        last_name="Smith",
        job_title="CEO",
        phones=mobile("07400 222222"),
    )
    tag(manager, b, "VIP")
    before_a = (a.first_name, a.job_title, a.search_text)
    record = merge_contacts(manager, [a.id, b.id], master_id=a.id)
    db.session.commit()
    admin = an_admin()
    db.session.commit()
    assert undo_refusal(record) == ""
    undo_merge(admin, record)
    db.session.commit()
    a2, b2 = reload(a), reload(b)
    assert (a2.first_name, a2.job_title, a2.search_text) == before_a
    assert [p.e164 for p in a2.phones] == ["+447400111111"]
    assert [p.e164 for p in b2.phones] == ["+447400222222"]
    assert tags_of(b2.id) == ["VIP"] and tags_of(a2.id) == []
    assert b2.merged_into_id is None and b2.deleted_at is None
    assert undo_refusal(db.session.get(MergeRecord, record.id)) == "This merge was undone already."


def test_undo_is_refused_once_the_master_changed_and_for_managers(manager, make_contact):
    a = make_contact(manager, first_name="Ana", last_name="Smith")
    b = make_contact(manager, first_name="Anna", last_name="Smith")
    record = merge_contacts(manager, [a.id, b.id])
    db.session.commit()
    with pytest.raises(PermissionDenied):
        undo_merge(manager, record)
    master = reload(a)
    master.job_title = "Boss"
    db.session.commit()
    assert "changed after the merge" in undo_refusal(record)
    with pytest.raises(DomainError):
        undo_merge(an_admin(), record)


def test_versions_seen_on_the_page_guard_the_merge(manager, make_contact):
    a = make_contact(manager, first_name="Ana", last_name="Smith")
    b = make_contact(manager, first_name="Anna", last_name="Smith")
    seen = {a.id: a.version, b.id: b.version}
    b.job_title = "Changed meanwhile"
    db.session.commit()
    with pytest.raises(StaleEditError):
        merge_contacts(manager, [a.id, b.id], versions=seen)
    db.session.rollback()
    assert reload(b).merged_into_id is None


def test_bad_requests_are_refused(manager, make_contact, sales):
    a = make_contact(manager, first_name="Ana", last_name="Smith")
    b = make_contact(manager, first_name="Anna", last_name="Smith")
    with pytest.raises(PermissionDenied):
        merge_contacts(sales, [a.id, b.id])
    with pytest.raises(ValidationFailed):
        merge_contacts(manager, [a.id])
    with pytest.raises(NotFound):
        merge_contacts(manager, [a.id, 999999])
    with pytest.raises(ValidationFailed):
        merge_contacts(manager, [a.id, b.id], choices={"first_name": "12345"})
    with pytest.raises(ValidationFailed):
        merge_contacts(manager, ["x", a.id])


def test_consumers_hidden_accounts_follow(manager, make_contact):
    a = make_contact(manager, first_name="Ana", last_name="Smith")
    b = make_contact(manager, first_name="Anna", last_name="Smith")
    hidden_b = b.account_id
    merge_contacts(manager, [a.id, b.id], master_id=a.id)
    db.session.commit()
    assert reload(db.session.get(Account, hidden_b)).merged_into_id == reload(a).account_id


def test_a_consumer_master_taking_a_company_keeps_its_hidden_account_for_undo(
    manager, make_contact
):
    acme = Account(name="Acme")
    db.session.add(acme)
    db.session.commit()
    a = make_contact(manager, first_name="Ana", last_name="Smith")
    b = make_contact(manager, first_name="Ana", last_name="Smith", account=acme, kind="b2b")
    hidden_a = a.account_id
    record = merge_contacts(manager, [a.id, b.id], master_id=a.id, choices={"account": str(b.id)})
    db.session.commit()
    master = reload(a)
    assert master.kind == ContactKind.B2B and master.account_id == acme.id
    assert db.session.get(Account, hidden_a).merged_into_id == acme.id
    undo_merge(an_admin(), record)
    db.session.commit()
    master = reload(a)
    assert master.kind == ContactKind.B2C and master.account_id == hidden_a
    assert db.session.get(Account, hidden_a).merged_into_id is None


def test_not_duplicate_marks_follow_the_master(manager, make_contact):
    a = make_contact(manager, first_name="Ana", last_name="Smith")
    b = make_contact(manager, first_name="Anna", last_name="Smith")
    c = make_contact(manager, first_name="Other", last_name="Person")
    mark_not_duplicates(manager, [b.id, c.id])
    db.session.commit()
    merge_contacts(manager, [a.id, b.id], master_id=a.id)
    db.session.commit()
    pairs = set(db.session.execute(select(NotDuplicate.low_id, NotDuplicate.high_id)).all())
    assert (min(a.id, c.id), max(a.id, c.id)) in pairs


def test_a_manager_reference_to_a_merged_contact_moves_and_never_to_itself(manager, make_contact):
    a = make_contact(manager, first_name="Ana", last_name="Smith")
    b = make_contact(manager, first_name="Anna", last_name="Smith")
    report = make_contact(manager, first_name="Rep", last_name="Ort")
    report.manager = b
    a.manager = b
    db.session.commit()
    merge_contacts(manager, [a.id, b.id], master_id=a.id)
    db.session.commit()
    assert reload(report).manager_id == a.id
    assert reload(a).manager_id is None


def test_every_column_is_either_chosen_on_the_merge_page_or_kept_by_the_rules():
    """A column added later must be decided: offered on the merge page, or derived."""
    from crm.services.merge.plan import (
        ACCOUNT_FIELDS,
        ACCOUNT_NOT_CHOSEN,
        CONTACT_FIELDS,
        CONTACT_NOT_CHOSEN,
    )

    chosen = {f.name for f in CONTACT_FIELDS} - {"account"}
    assert chosen | CONTACT_NOT_CHOSEN == set(Contact.__table__.c.keys())
    assert not chosen & CONTACT_NOT_CHOSEN
    account_chosen = {f.name for f in ACCOUNT_FIELDS}
    assert account_chosen | ACCOUNT_NOT_CHOSEN == set(Account.__table__.c.keys())
