"""services.tags: the tag cloud through the visibility gate, renaming, merging, deleting."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from sqlalchemy import event, select

from crm.errors import PermissionDenied, ValidationFailed
from crm.extensions import db
from crm.models import Contact, Tag
from crm.models.base import utcnow
from crm.services.lists.tags import (
    TagCount,
    delete_tag,
    link_counts,
    merge_tags,
    rename_tag,
    tag_cloud,
    tags_for_names,
)
from tests.db_state import tag_links
from tests.services.conftest import history


@pytest.fixture
def list_manager(make_user):
    return make_user("crm_list_manager")


def tagged(make_contact, first_name: str, *names: str, **fields) -> Contact:
    contact = make_contact(first_name=first_name, **fields)
    if names:
        contact.tags.extend(tags_for_names(list(names)))
        db.session.commit()
    return contact


def tag(name: str) -> Tag:
    return db.session.scalar(select(Tag).where(Tag.key == name.lower()))


links = tag_links


def trash(contact: Contact) -> None:
    contact.deleted_at = utcnow()
    db.session.commit()


@contextlib.contextmanager
def statements() -> Iterator[list[str]]:
    """The SQL statements run inside the block."""
    seen: list[str] = []

    def note(_conn, _cursor, statement, *_args):
        seen.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


# ---- the cloud --------------------------------------------------------------------------


def test_cloud_counts_the_contacts_the_user_may_see(sales, make_contact):
    tagged(make_contact, "Ana", "VIP", "Loyal")
    tagged(make_contact, "Bo", "vip")  # the same tag, whatever its case
    tagged(make_contact, "Cy", "VIP", active=False)  # inactive contacts are still contacts
    trash(tagged(make_contact, "Di", "VIP", "Gone"))
    tagged(make_contact, "Ed")
    cloud = tag_cloud(sales)
    assert [(t.name, t.contacts) for t in cloud] == [("Loyal", 1), ("VIP", 3)]
    assert cloud[1] == TagCount(tag("VIP").id, "VIP", 3)


def test_a_tag_whose_contacts_are_all_out_of_sight_is_not_in_the_cloud(sales, make_contact):
    trash(tagged(make_contact, "Di", "Gone"))
    tags_for_names(["Unused"])
    db.session.commit()
    assert tag_cloud(sales) == []
    assert tag("Gone") is not None and tag("Unused") is not None  # still there to manage


def test_cloud_is_a_few_queries_whatever_the_number_of_tags(sales, make_contact):
    for index in range(15):
        tagged(make_contact, f"C{index}", f"Tag {index}", "Common")
    assert sales.role_names  # loaded before counting
    with statements() as seen:
        cloud = tag_cloud(sales)
    assert len(cloud) == 16
    for index in range(15, 30):
        tagged(make_contact, f"C{index}", f"Tag {index}", "Common")
    assert sales.role_names
    with statements() as again:
        assert len(tag_cloud(sales)) == 31
    # Whether access classes exist, the grouped counts (all links, the trash's), the names.
    assert len(again) == len(seen) <= 4


def test_cloud_is_refused_without_contact_view(list_manager, make_contact):
    tagged(make_contact, "Ana", "VIP")
    with pytest.raises(PermissionDenied):
        tag_cloud(list_manager)


# ---- rename -----------------------------------------------------------------------------


def test_rename_changes_the_tag_on_every_contact(list_manager, make_contact):
    tagged(make_contact, "Ana", "VIP")
    tagged(make_contact, "Bo", "VIP", "Loyal")
    vip = tag("VIP")
    kept = rename_tag(list_manager, vip, "  Very   important ")
    db.session.commit()
    assert kept.id == vip.id
    assert links() == {("Ana", "Very important"), ("Bo", "Very important"), ("Bo", "Loyal")}
    [entry] = history(action="rename_tag")
    assert (entry.entity_type, entry.entity_id, entry.user_id) == ("tag", vip.id, list_manager.id)
    assert entry.changes == {"name": ["VIP", "Very important"]}


def test_rename_to_another_case_keeps_the_tag(list_manager, make_contact):
    tagged(make_contact, "Ana", "VIP")
    vip = tag("VIP")
    assert rename_tag(list_manager, vip, "Vip").id == vip.id
    db.session.commit()
    assert links() == {("Ana", "Vip")}
    assert history(action="merge_tags") == []


def test_rename_to_the_same_name_records_nothing(list_manager, make_contact):
    tagged(make_contact, "Ana", "VIP")
    rename_tag(list_manager, tag("VIP"), "VIP")
    db.session.commit()
    assert history(entity_type="tag") == []


def test_rename_onto_an_existing_tag_merges_them(list_manager, make_contact):
    tagged(make_contact, "Ana", "VIP")
    tagged(make_contact, "Bo", "VIP", "Gold")
    tagged(make_contact, "Cy", "Gold")
    vip, gold = tag("VIP"), tag("Gold")
    kept = rename_tag(list_manager, gold, " vip ")
    db.session.commit()
    assert kept.id == vip.id and kept.name == "VIP"
    assert links() == {("Ana", "VIP"), ("Bo", "VIP"), ("Cy", "VIP")}
    assert db.session.get(Tag, gold.id) is None
    [entry] = history(action="merge_tags")
    assert entry.entity_id == vip.id
    assert entry.changes["tags"] == [["Gold"], "VIP"]


def test_rename_needs_a_short_name(list_manager, make_contact, subtests):
    tagged(make_contact, "Ana", "VIP")
    for typed, message in [
        ("   ", "A tag needs a name."),
        ("x" * 61, "A tag has at most 60 characters."),
    ]:
        with subtests.test(typed=typed):
            with pytest.raises(ValidationFailed) as caught:
                rename_tag(list_manager, tag("VIP"), typed)
            db.session.rollback()
            assert caught.value.errors == {"name": [message]}
            assert links() == {("Ana", "VIP")}


# ---- merge ------------------------------------------------------------------------------


def test_merging_three_tags_keeps_every_link_exactly_once(list_manager, make_contact):
    tagged(make_contact, "One", "Alpha", "Beta", "Gamma")
    tagged(make_contact, "Two", "Alpha", "Keep")
    tagged(make_contact, "Three", "Keep")
    tagged(make_contact, "Four", "Beta", "Other")
    tagged(make_contact, "Five")
    trash(tagged(make_contact, "Six", "Gamma"))  # restored later, it must carry the survivor
    keep = tag("Keep")
    merged = [tag("Gamma"), tag("Alpha"), tag("Beta")]
    merged_ids = sorted(t.id for t in merged)
    gained = merge_tags(list_manager, keep, merged)
    db.session.commit()
    assert gained == 3  # One, Four, Six; Two already had it
    assert links() == {
        ("One", "Keep"),
        ("Two", "Keep"),
        ("Three", "Keep"),
        ("Four", "Keep"),
        ("Four", "Other"),
        ("Six", "Keep"),
    }
    assert db.session.scalars(select(Tag.name).order_by(Tag.key)).all() == ["Keep", "Other"]
    [entry] = history(action="merge_tags")
    assert (entry.entity_type, entry.entity_id, entry.user_id) == ("tag", keep.id, list_manager.id)
    assert entry.summary == "Merged tags Alpha, Beta, Gamma into Keep"
    assert entry.changes["tags"] == [["Alpha", "Beta", "Gamma"], "Keep"]
    assert sorted(entry.changes["tag_ids"][0]) == merged_ids
    assert entry.changes["contacts_with_tag"] == [{"Alpha": 2, "Beta": 2, "Gamma": 2}, 5]


def test_merge_updates_contacts_already_loaded(list_manager, make_contact):
    ana = tagged(make_contact, "Ana", "Alpha")
    assert [t.name for t in ana.tags] == ["Alpha"]
    merge_tags(list_manager, tags_for_names(["Keep"])[0], [tag("Alpha")])
    assert [t.name for t in ana.tags] == ["Keep"]
    db.session.commit()


def test_merge_needs_another_tag(list_manager, make_contact):
    tagged(make_contact, "Ana", "Keep")
    with pytest.raises(ValidationFailed):
        merge_tags(list_manager, tag("Keep"), [tag("Keep")])
    db.session.rollback()
    assert links() == {("Ana", "Keep")}


def test_only_tag_managers_rename_merge_or_delete(make_user, make_contact, subtests):
    tagged(make_contact, "Ana", "Alpha", "Beta")
    for role in ("crm_sales", "crm_manager", "crm_marketeer"):
        actor = make_user(role)
        for name, change in [
            ("rename", lambda who=actor: rename_tag(who, tag("Alpha"), "Gamma")),
            ("merge", lambda who=actor: merge_tags(who, tag("Alpha"), [tag("Beta")])),
            ("delete", lambda who=actor: delete_tag(who, tag("Alpha"))),
        ]:
            with subtests.test(role=role, change=name):
                with pytest.raises(PermissionDenied):
                    change()
                db.session.rollback()
                assert links() == {("Ana", "Alpha"), ("Ana", "Beta")}
    assert history(entity_type="tag") == []


def test_admin_may_manage_tags(make_user, make_contact):
    tagged(make_contact, "Ana", "Alpha", "Beta")
    merge_tags(make_user("crm_admin"), tag("Alpha"), [tag("Beta")])
    db.session.commit()
    assert links() == {("Ana", "Alpha")}


# ---- delete -----------------------------------------------------------------------------


def test_delete_takes_the_tag_off_every_contact(list_manager, make_contact):
    tagged(make_contact, "Ana", "VIP", "Loyal")
    trash(tagged(make_contact, "Bo", "VIP"))
    vip = tag("VIP")
    vip_id = vip.id
    assert link_counts([vip_id]) == {vip_id: 2}
    assert delete_tag(list_manager, vip) == 2
    db.session.commit()
    assert links() == {("Ana", "Loyal")}
    assert db.session.get(Tag, vip_id) is None
    [entry] = history(action="delete_tag")
    assert (entry.entity_type, entry.entity_id) == ("tag", vip_id)
    assert entry.changes == {"name": ["VIP", None], "contacts_with_tag": [2, 0]}
    assert db.session.scalar(select(Contact).where(Contact.first_name == "Bo")) is not None
