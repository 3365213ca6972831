"""Bulk actions, the selection basket and the trash: set-based, gated, reported."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from crm.errors import PermissionDenied, ValidationFailed
from crm.extensions import db
from crm.models import (
    AuditEntry,
    Category,
    Contact,
    MarketingList,
    MarketingListMember,
    Segment,
    SegmentKind,
    Tag,
    audit_bulk_contacts,
    contact_tags,
    segment_members,
)
from crm.services.contacts import bulk, selection
from crm.services.contacts.trash import delete_contact, purge_contact, restore_contact
from crm.services.platform.access import visible_contacts
from crm.services.transfer import exporting
from tests.services.conftest import an_admin


def ids_of(*contacts: Contact):
    return select(Contact.id).where(Contact.id.in_([c.id for c in contacts]))


def tag_names(contact: Contact) -> list[str]:
    rows = db.session.execute(
        select(Tag.name).join(contact_tags).where(contact_tags.c.contact_id == contact.id)
    )
    return sorted(r[0] for r in rows)


def test_add_tags_creates_them_and_reports_who_already_had_them(manager, make_contact):
    ana, bo, cy = (make_contact(first_name=n) for n in ("Ana", "Bo", "Cy"))
    bulk.add_tags(manager, ids_of(ana), ["VIP"])
    db.session.commit()
    result = bulk.add_tags(manager, ids_of(ana, bo, cy), ["vip", " Loyal "])
    db.session.commit()
    assert tag_names(ana) == ["Loyal", "VIP"] and tag_names(bo) == ["Loyal", "VIP"]
    assert db.session.scalar(select(Tag.name).where(Tag.key == "vip")) == "VIP"  # one tag
    assert result.skipped == {"already had the tag VIP": 1}
    assert "already had the tag VIP" in result.message
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "bulk")).all()[-1]
    named = select(audit_bulk_contacts.c.contact_id).where(
        audit_bulk_contacts.c.entry_id == entry.id
    )
    assert sorted(db.session.scalars(named)) == sorted([ana.id, bo.id, cy.id])
    assert entry.changes["contacts"] == 3
    assert entry.changes["contact_sample"] == sorted([ana.id, bo.id, cy.id])
    assert entry.user_id == manager.id


def test_remove_tags(manager, make_contact):
    ana, bo = make_contact(first_name="Ana"), make_contact(first_name="Bo")
    bulk.add_tags(manager, ids_of(ana), ["VIP"])
    result = bulk.remove_tags(manager, ids_of(ana, bo), ["VIP"])
    db.session.commit()
    assert tag_names(ana) == [] and result.changed == 1
    assert result.skipped == {"did not have the tag VIP": 1}
    with pytest.raises(ValidationFailed):
        bulk.remove_tags(manager, ids_of(ana), ["no-such-tag"])


def test_bulk_actions_only_touch_contacts_the_user_may_see(manager, make_user, make_contact):
    ana = make_contact(first_name="Ana")
    delete_contact(manager, ana)  # in the trash: outside the gate
    db.session.commit()
    result = bulk.add_tags(manager, ids_of(ana), ["VIP"])
    assert result.changed == 0 and tag_names(ana) == []
    nobody = make_user()
    with pytest.raises(PermissionDenied):
        bulk.add_tags(nobody, ids_of(ana), ["VIP"])


def test_assigning_a_responsible_user_needs_the_permission(manager, sales, make_contact, make_user):
    ana, bo = make_contact(first_name="Ana"), make_contact(first_name="Bo")
    colleague = make_user("crm_sales")
    with pytest.raises(PermissionDenied, match="assign responsible users"):
        bulk.set_responsible(sales, ids_of(ana, bo), colleague.id)
    db.session.rollback()
    version = ana.version
    result = bulk.set_responsible(manager, ids_of(ana, bo), colleague.id)
    db.session.commit()
    assert result.changed == 2
    db.session.expire_all()
    assert ana.responsible_id == colleague.id and ana.version == version + 1
    again = bulk.set_responsible(manager, ids_of(ana, bo), colleague.id)
    assert again.changed == 0 and sum(again.skipped.values()) == 2
    cleared = bulk.set_responsible(manager, ids_of(ana), None)
    db.session.commit()
    assert cleared.changed == 1 and db.session.get(Contact, ana.id).responsible_id is None


def test_categories_segments_and_marketing_lists(manager, sales, make_contact):
    ana = make_contact(first_name="Ana", email_marketing=True)
    bo = make_contact(first_name="Bo", do_not_email=True)
    customer = db.session.scalar(select(Category).where(Category.name == "Customer"))
    assert bulk.add_category(manager, ids_of(ana, bo), customer.id).changed == 2
    static = Segment(name="Fair 2026", kind=SegmentKind.STATIC)
    dynamic = Segment(name="Berliners", kind=SegmentKind.DYNAMIC, query="flt0_city_is=Berlin")
    mlist = MarketingList(name="Newsletter")
    db.session.add_all([static, dynamic, mlist])
    db.session.flush()
    assert bulk.add_to_segment(manager, ids_of(ana), static.id).changed == 1
    assert db.session.execute(select(segment_members.c.contact_id)).scalars().all() == [ana.id]
    with pytest.raises(ValidationFailed, match="dynamic"):
        bulk.add_to_segment(manager, ids_of(ana), dynamic.id)
    with pytest.raises(PermissionDenied, match="marketing lists"):
        bulk.add_to_marketing_list(an_admin(), ids_of(ana), mlist.id)  # SimpleOne: not admins
    result = bulk.add_to_marketing_list(sales, ids_of(ana, bo), mlist.id)
    db.session.commit()
    assert result.changed == 2
    assert "1 of them do not accept marketing email" in result.message
    members = db.session.scalars(select(MarketingListMember.contact_id)).all()
    assert sorted(members) == sorted([ana.id, bo.id])  # flagged, not dropped


def test_trash_restore_and_purge(manager, make_contact):
    ana = make_contact(first_name="Ana")
    result = bulk.move_to_trash(manager, ids_of(ana))
    db.session.commit()
    assert result.changed == 1
    assert db.session.scalars(visible_contacts(manager)).all() == []
    restore_contact(manager, db.session.get(Contact, ana.id))
    db.session.commit()
    assert [c.id for c in db.session.scalars(visible_contacts(manager))] == [ana.id]
    with pytest.raises(PermissionDenied):
        purge_contact(manager, ana)
    purge_contact(an_admin(), ana)
    db.session.commit()
    assert db.session.get(Contact, ana.id) is None


def test_selection_basket(manager, make_user, make_contact):
    ana, bo, cy = (make_contact(first_name=n) for n in ("Ana", "Bo", "Cy"))
    assert selection.add(manager, [ana.id, bo.id, "junk"]) == 2
    assert selection.add(manager, [bo.id, cy.id]) == 1  # bo was already there
    other = make_user("crm_sales")
    assert selection.count(other) == 0  # baskets are per user
    assert selection.remove(manager, [bo.id]) == 1
    assert sorted(db.session.scalars(selection.selected_ids(manager))) == [ana.id, cy.id]
    delete_contact(manager, cy)
    assert selection.count(manager) == 1  # trashed contacts drop out of view
    assert selection.clear(manager) == 2 and selection.count(manager) == 0


def test_export_is_gated_and_neutralises_formulas(manager, sales, make_contact):
    make_contact(first_name="=HYPERLINK(1)", last_name="Smith", email="ana@example.com")
    target = select(Contact.id)
    with pytest.raises(PermissionDenied):
        exporting.csv_chunks(sales, target)
    text = b"".join(exporting.csv_chunks(manager, target)).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:5] == ["CRM id", "Title", "First name", "Middle name", "Last name"]
    assert rows[1][2].startswith("'=")  # a spreadsheet shows it as text, does not run it
    assert rows[1][9] == "ana@example.com"


def test_deleting_segments_and_lists_keeps_the_contacts(manager, make_user, make_contact):
    from crm.services.lists.segments import delete_marketing_list, delete_segment

    ana = make_contact(first_name="Ana")
    segment = Segment(name="Fair", kind=SegmentKind.STATIC)
    mlist = MarketingList(name="Newsletter")
    db.session.add_all([segment, mlist])
    db.session.flush()
    bulk.add_to_segment(manager, ids_of(ana), segment.id)
    bulk.add_to_marketing_list(manager, ids_of(ana), mlist.id)
    nobody = make_user()
    with pytest.raises(PermissionDenied):
        delete_segment(nobody, segment)
    with pytest.raises(PermissionDenied):
        delete_marketing_list(make_user("crm_sales"), mlist)  # sales add members, not lists
    delete_segment(manager, segment)
    delete_marketing_list(manager, mlist)
    db.session.commit()
    assert db.session.get(Contact, ana.id) is not None
    assert db.session.scalars(select(segment_members.c.contact_id)).all() == []
    assert db.session.scalars(select(MarketingListMember.contact_id)).all() == []
