"""A contact's history (the History tab): every kind of change to the contact and what
belongs to it appears with who, when and each field's old and new value, within a date
range; bulk actions, imports and merges are one entry each that every touched contact shows."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from crm.errors import NotFound
from crm.extensions import db
from crm.models import (
    AccessClass,
    AuditEntry,
    ConnectionType,
    Contact,
    Deal,
    DuplicateHandling,
    Tag,
)
from crm.models.base import utcnow
from crm.services.card import connections, history, notes
from crm.services.contacts import bulk
from crm.services.contacts.saving import apply_contact_rules
from crm.services.contacts.trash import delete_contact, restore_contact
from crm.services.merge.contacts import merge_contacts
from crm.services.sales.deals import save_deal
from tests.services.transfer.test_imports import csv_bytes, run


def _page(actor, contact, **kwargs) -> history.HistoryPage:
    return history.contact_history(actor, contact.id, **kwargs)


def _summaries(page: history.HistoryPage) -> list[str]:
    return [item.entry.summary for item in page.items]


def _changes(page: history.HistoryPage) -> dict[str, tuple[str, str]]:
    """field -> (old, new) over the page, the newest change of each field winning."""
    found: dict[str, tuple[str, str]] = {}
    for item in reversed(page.items):
        for change in item.changes:
            found[change.field] = (change.old, change.new)
    return found


def test_an_edit_shows_who_when_and_each_fields_old_and_new_value(manager, make_contact):
    ana = make_contact(manager, first_name="Ana", email="ana@example.com")
    ana.email = "ana.smith@example.com"
    ana.job_title = "Buyer"
    apply_contact_rules(manager, ana, is_new=False)
    db.session.commit()
    page = _page(manager, ana)
    edit = page.items[0]
    assert edit.entry.action == "update" and edit.entry.user_email == manager.email
    shown = {c.field: (c.old, c.new) for c in edit.changes}
    assert shown["Primary email"] == ("ana@example.com", "ana.smith@example.com")
    assert shown["Job title"] == ("", "Buyer")
    assert page.items[-1].entry.action == "create"


def test_phones_tags_notes_deals_and_connections_are_in_the_contacts_history(manager, make_contact):
    ana = make_contact(manager, first_name="Ana", phones=[{"number": "+44 7400 123456"}])
    bob = make_contact(manager, first_name="Bob")
    ana.tags.append(Tag(name="VIP", key="vip"))
    apply_contact_rules(manager, ana, is_new=False)
    notes.add_note(manager, ana, "Met at the fair")
    deal = Deal(title="Big order", owner_id=manager.id)
    deal.contacts = [ana, bob]
    db.session.add(deal)
    save_deal(manager, deal, is_new=True)
    colleague = db.session.scalar(select(ConnectionType).where(ConnectionType.name == "Colleague"))
    connections.connect(manager, ana, bob.id, colleague.id)
    db.session.commit()

    kinds = {(i.entry.action, i.entry.entity_type) for i in _page(manager, ana).items}
    assert {("create", "phone"), ("create", "note"), ("create", "deal"),
            ("create", "connection")} <= kinds  # fmt: skip
    assert _changes(_page(manager, ana))["Tags"] == ("", "VIP")  # ids shown as names
    # The deal and the connection belong to Bob too.
    bobs = {(i.entry.action, i.entry.entity_type) for i in _page(manager, bob).items}
    assert {("create", "deal"), ("create", "connection")} <= bobs
    assert ("create", "note") not in bobs


def test_a_bulk_action_is_one_entry_that_every_touched_contact_shows(manager, make_contact):
    people = [make_contact(manager, first_name=name) for name in ("Ana", "Bob", "Cy")]
    outsider = make_contact(manager, first_name="Dee")
    target = select(Contact.id).where(Contact.id.in_([p.id for p in people]))
    bulk.add_tags(manager, target, ["Fair 2026"])
    db.session.commit()
    entries = list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == "bulk")))
    assert len(entries) == 1 and "Fair 2026" in entries[0].summary
    for person in people:
        item = _page(manager, person).items[0]
        assert item.entry.id == entries[0].id and item.touched == 3
    assert entries[0].id not in {i.entry.id for i in _page(manager, outsider).items}


def test_an_import_and_a_merge_are_in_the_history_of_the_contacts_they_touched(manager):
    rows = csv_bytes("Ana,Smith,ana@example.com,,,", "Ana,Smith,ana2@example.com,,,")
    job = run(manager, rows, DuplicateHandling.CREATE, name="fair.csv")
    first, second = db.session.scalars(select(Contact).order_by(Contact.id)).all()
    assert any(i.entry.action == "import" and "fair.csv" in i.entry.summary
               for i in _page(manager, second).items)  # fmt: skip
    assert job.created == 2
    merge_contacts(manager, [first.id, second.id], master_id=first.id)
    db.session.commit()
    merge_entry = _page(manager, first).items[0].entry
    assert merge_entry.action == "merge"
    # The merged contact is a tombstone now; its history still names the merge (read as
    # the entries that belong to it).
    tombstone_entries = db.session.execute(
        select(AuditEntry.id).where(
            AuditEntry.contact_id == second.id, AuditEntry.action == "merge"
        )
    ).all()
    assert tombstone_entries


def test_trash_and_restore_are_in_the_history(manager, make_contact):
    ana = make_contact(manager, first_name="Ana")
    delete_contact(manager, ana)
    db.session.commit()
    restore_contact(manager, ana)
    db.session.commit()
    said = [i.what for i in _page(manager, ana).items]
    assert said[:2] == ["restored from the trash", "moved to the trash"]


def test_the_date_range_keeps_the_entries_of_those_days(manager, make_contact):
    ana = make_contact(manager, first_name="Ana")
    ana.job_title = "Buyer"
    apply_contact_rules(manager, ana, is_new=False)
    db.session.commit()
    # An entry from a month ago (history is append-only: it is written, not moved back).
    month_ago = utcnow() - timedelta(days=30)
    db.session.add(AuditEntry(at=month_ago, action="update", entity_type="contact",
                              entity_id=ana.id, contact_id=ana.id, summary="Old change",
                              changes={"job_title": [None, "Trainee"]}))  # fmt: skip
    db.session.commit()
    today = date.today()
    recent = _page(manager, ana, since=today - timedelta(days=1), until=today)
    assert [i.entry.action for i in recent.items] == ["update", "create"]
    old = _page(manager, ana, since=month_ago.date(), until=month_ago.date())
    assert [i.entry.summary for i in old.items] == ["Old change"]
    assert len(_page(manager, ana).items) == 3
    # Given the wrong way round, the range is read the right way round.
    swapped = _page(manager, ana, since=today, until=today - timedelta(days=1))
    assert len(swapped.items) == 2
    assert _page(manager, ana, since=today + timedelta(days=1)).items == []


def test_a_private_notes_text_never_reaches_history(manager, sales, make_contact):
    ana = make_contact(manager, first_name="Ana")
    note = notes.add_note(sales, ana, "Secret: allergic to cats", private=True)
    db.session.commit()
    notes.update_note(sales, note.id, "Secret: allergic to dogs", True)
    db.session.commit()
    notes.delete_note(sales, note.id)
    db.session.commit()
    stored = db.session.scalars(select(AuditEntry).where(AuditEntry.entity_type == "note")).all()
    assert len(stored) == 3
    assert not any("allergic" in str(e.changes) or "allergic" in e.summary for e in stored)


def test_history_of_a_contact_the_user_cannot_see_is_refused(manager, sales, make_contact):
    hidden = AccessClass(name="Key accounts")
    db.session.add(hidden)
    db.session.commit()
    kai = make_contact(manager, first_name="Kai", access_class=hidden)
    with pytest.raises(NotFound):
        history.contact_history(sales, kai.id)
    assert history.contact_history(manager, kai.id).items


def test_history_pages_hold_fifty_entries(manager, make_contact):
    ana = make_contact(manager, first_name="Ana")
    for n in range(history.PAGE_SIZE + 5):
        ana.job_title = f"Job {n}"
        apply_contact_rules(manager, ana, is_new=False)
        db.session.flush()
    db.session.commit()
    first = _page(manager, ana)
    assert len(first.items) == history.PAGE_SIZE and first.has_more
    second = _page(manager, ana, page=2)
    assert len(second.items) == 6 and not second.has_more  # 5 more edits and the creation
    assert second.items[-1].entry.action == "create"
