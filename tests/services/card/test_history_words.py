"""What the history says of real changes made through the services: an edit names its fields
as the form does and its values by name and label; a merge, a bulk tag and an import are one
sentence each, with their counts and a link, in the history of the contacts they touched and
in Administration > History."""

from __future__ import annotations

from sqlalchemy import select

from crm.extensions import db
from crm.models import AuditEntry, Contact, CustomerStatus, DuplicateHandling, Phone, PhoneType
from crm.services.card import activity, history
from crm.services.contacts import bulk
from crm.services.contacts.saving import apply_contact_rules
from crm.services.merge.contacts import merge_contacts
from tests.services.transfer.test_imports import csv_bytes, run


def _named(make_user, role: str, name: str):
    user = make_user(role)
    user.full_name = name
    db.session.commit()
    return user


def _first(actor, contact) -> history.HistoryItem:
    return history.contact_history(actor, contact.id).items[0]


def test_an_edit_reads_as_the_form_labels_names_and_labels(app, make_user, make_contact):
    app.config["CRM_TIMEZONE"] = "Europe/Paris"
    maria = _named(make_user, "crm_manager", "Maria Lopez")
    sam = _named(make_user, "crm_sales", "Sam Seller")
    ana = make_contact(maria, first_name="Ana", phones=[{"number": "+44 7400 123456"}])
    ana.customer_status = CustomerStatus.CUSTOMER
    ana.email = "ana@example.com"
    ana.owner_id = sam.id
    apply_contact_rules(maria, ana, is_new=False)
    db.session.commit()

    edits = [i for i in history.contact_history(maria, ana.id).items if i.entry.action == "update"]
    edit = edits[0]
    assert edit.who == "Maria Lopez"
    assert edit.headline == "Updated the contact Ana Smith"
    shown = {c.field: (c.old, c.new) for e in edits for c in e.changes}
    assert shown["Customer status"] == ("Non-customer", "Customer")
    assert shown["Primary email"] == ("", "ana@example.com")
    assert shown["Contact owner"] == ("Maria Lopez", "Sam Seller")
    # The office's time zone, to the minute.
    stored = db.session.get(AuditEntry, edit.entry.id).at
    assert edit.when.count(":") == 1 and len(edit.when) == len("2026-11-23 14:30")
    assert edit.when != stored.strftime("%Y-%m-%d %H:%M")  # Paris is not UTC

    # A phone's type by its name, its number once.
    phone = db.session.scalar(select(Phone).where(Phone.contact_id == ana.id))
    other = db.session.scalar(select(PhoneType).where(PhoneType.id != phone.phone_type_id))
    old_type = phone.phone_type.name
    phone.phone_type_id = other.id
    phone.number = "+44 7400 654321"
    apply_contact_rules(maria, ana, is_new=False)
    db.session.commit()
    change = _first(maria, ana)
    assert change.headline.startswith("Changed the phone ")
    shown = {c.field: (c.old, c.new) for c in change.changes}
    assert shown["Type"] == (old_type, other.name)
    assert [c.field for c in change.changes].count("Number") == 1
    # The feed says the same in a line: who, the verb, the fields.
    feed = activity.feed(maria, ana.id)
    line = next(i for i in feed if i.kind == "change")
    assert (line.who, line.title) == ("Maria Lopez", change.what)
    assert "Type" in line.text and "Number" in line.text


def test_a_merge_says_how_many_were_merged_into_which_with_a_link(make_user, make_contact):
    maria = _named(make_user, "crm_manager", "Maria Lopez")
    ana = make_contact(maria, first_name="Ana", job_title="Buyer")
    twins = [make_contact(maria, first_name="Ana", email=f"ana{n}@example.com") for n in (1, 2)]
    record = merge_contacts(maria, [ana.id, *(t.id for t in twins)], master_id=ana.id)
    db.session.commit()

    merged = _first(maria, ana)
    assert merged.what == "merged 2 contacts into this one"
    assert merged.link == ("merge.details", {"merge_id": record.id})
    tombstone = next(
        i for i in history.described(db.session.scalars(
            select(AuditEntry).where(AuditEntry.contact_id == twins[0].id,
                                     AuditEntry.action == "merge")))
    )  # fmt: skip
    assert tombstone.what == "merged into Ana Smith"
    assert tombstone.link == ("contact.details_view", {"id": ana.id})
    # Administration > History names the contact rather than "this one".
    entry = db.session.get(AuditEntry, merged.entry.id)
    assert history.described([entry])[0].what == "merged 2 contacts into Ana Smith"
    assert not any("{" in c.new or "_" in c.field for c in merged.changes)


def test_a_bulk_tag_counts_the_other_contacts(make_user, make_contact):
    maria = _named(make_user, "crm_manager", "Maria Lopez")
    people = [make_contact(maria, first_name=name) for name in ("Ana", "Bob", "Cy")]
    bulk.add_tags(maria, select(Contact.id).where(Contact.id.in_([p.id for p in people])), ["VIP"])
    db.session.commit()
    tagged = _first(maria, people[0])
    assert tagged.what == "tagged VIP with 2 other contacts"
    assert tagged.changes == []  # no "Contacts: 3", no sample of ids
    entry = db.session.get(AuditEntry, tagged.entry.id)
    assert history.described([entry])[0].what == "tagged VIP: 3 contacts"


def test_an_import_names_its_file_with_a_link(make_user):
    maria = _named(make_user, "crm_manager", "Maria Lopez")
    rows = csv_bytes("Ana,Smith,ana@example.com,,,", "Bob,Jones,bob@example.com,,,")
    job = run(maria, rows, DuplicateHandling.CREATE, name="people.csv")
    ana = db.session.scalar(select(Contact).where(Contact.first_name == "Ana"))
    imported = next(i for i in history.contact_history(maria, ana.id).items
                    if i.entry.action == "import")  # fmt: skip
    assert imported.what == "imported from people.csv"
    assert imported.link == ("imports.job", {"job_id": job.id})
    assert imported.who == "Maria Lopez"
    entry = db.session.get(AuditEntry, imported.entry.id)
    assert history.described([entry])[0].what == (
        "imported people.csv: 2 created, 0 updated, 0 skipped, 0 with errors"
    )
