"""Notes, the activity feed, interactions and connections: the rules behind the contact
card's tabs."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm.errors import NotFound, PermissionDenied, StaleEditError, ValidationFailed
from crm.extensions import db
from crm.models import (
    AccessClass,
    Connection,
    ConnectionType,
    Interaction,
    InteractionStatus,
    Medium,
    Note,
)
from crm.services.card import activity, connections, interactions, notes
from crm.services.contacts.saving import apply_contact_rules
from crm.services.lists.lookups import delete_lookup, save_lookup
from crm.services.merge.contacts import merge_contacts
from crm.services.merge.undo import undo_merge
from tests.services.conftest import an_admin, count


def _type(name: str) -> ConnectionType:
    return db.session.scalar(select(ConnectionType).where(ConnectionType.name == name))


@pytest.fixture
def hidden_class():
    key = AccessClass(name="Key accounts")
    db.session.add(key)
    db.session.commit()
    return key


# ---- notes --------------------------------------------------------------------------------
def test_a_private_note_is_read_by_its_author_only(manager, sales, make_contact):
    ana = make_contact(manager, first_name="Ana")
    notes.add_note(sales, ana, "Public: likes golf")
    notes.add_note(sales, ana, "Private: negotiating hard", private=True)
    db.session.commit()
    assert [n.body for n in notes.notes_of_contact(sales, ana.id)] == [
        "Private: negotiating hard",
        "Public: likes golf",
    ]
    assert [n.body for n in notes.notes_of_contact(manager, ana.id)] == ["Public: likes golf"]
    # Nor in the activity feed of anyone else.
    assert "negotiating" not in str([i.text for i in activity.feed(manager, ana.id)])
    assert "negotiating" in str([i.text for i in activity.feed(sales, ana.id)])


def test_only_its_author_changes_or_deletes_a_note(manager, sales, make_user, make_contact):
    ana = make_contact(manager, first_name="Ana")
    note = notes.add_note(sales, ana, "Call back in May")
    db.session.commit()
    colleague = make_user("crm_sales")
    with pytest.raises(PermissionDenied):
        notes.update_note(colleague, note.id, "Call back in June", False)
    with pytest.raises(PermissionDenied):
        notes.delete_note(manager, note.id)
    # Someone else's private note is not even found.
    secret = notes.add_note(sales, ana, "secret", private=True)
    db.session.commit()
    with pytest.raises(NotFound):
        notes.update_note(colleague, secret.id, "read it", False)
    notes.update_note(sales, note.id, "  Call back in June ", False, version=note.version)
    db.session.commit()
    assert db.session.get(Note, note.id).body == "Call back in June"
    notes.delete_note(sales, note.id)
    db.session.commit()
    assert db.session.get(Note, note.id) is None


def test_a_note_edited_meanwhile_is_not_overwritten(manager, make_contact):
    ana = make_contact(manager, first_name="Ana")
    note = notes.add_note(manager, ana, "First")
    db.session.commit()
    seen_version = note.version
    notes.update_note(manager, note.id, "Second", False, version=seen_version)
    db.session.commit()
    with pytest.raises(StaleEditError):
        notes.update_note(manager, note.id, "Third", False, version=seen_version)
    db.session.rollback()
    assert db.session.get(Note, note.id).body == "Second"


def test_an_empty_or_huge_note_is_refused_on_its_field(manager, make_contact):
    ana = make_contact(manager, first_name="Ana")
    for body in ("", "   ", "x" * (notes.MAX_NOTE + 1)):
        with pytest.raises(ValidationFailed) as refused:
            notes.add_note(manager, ana, body)
        assert "body" in refused.value.errors
    assert count(Note) == 0


# ---- the activity feed ------------------------------------------------------------------
def test_comments_are_posted_by_the_contact_roles_and_polled_by_the_others(
    manager, sales, make_user, make_contact
):
    ana = make_contact(manager, first_name="Ana")
    first = activity.post_comment(sales, ana, "Sent the brochure")
    db.session.commit()
    second = activity.post_comment(make_user("crm_marketeer"), ana, "Added to the newsletter")
    db.session.commit()
    assert [c.body for c in activity.comments_after(manager, ana.id, first.id)] == [second.body]
    assert activity.comments_after(manager, ana.id, second.id) == []
    feed = activity.feed(manager, ana.id)
    assert [i.text for i in feed if i.kind == "comment"] == [second.body, first.body]
    assert any(i.kind == "change" and i.title == "created the contact Ana Smith" for i in feed)
    with pytest.raises(PermissionDenied):
        activity.post_comment(make_user("crm_list_manager"), ana, "hello")
    with pytest.raises(ValidationFailed):
        activity.post_comment(sales, ana, "   ")


def test_the_feed_of_a_hidden_contact_is_empty(manager, sales, make_contact, hidden_class):
    kai = make_contact(manager, first_name="Kai", access_class=hidden_class)
    activity.post_comment(manager, kai, "Board member")
    db.session.commit()
    assert activity.comments_after(sales, kai.id) == []


# ---- interactions -----------------------------------------------------------------------
def test_an_interaction_is_registered_with_medium_direction_status_and_operator(
    manager, sales, make_contact
):
    ana = make_contact(manager, first_name="Ana")
    call = interactions.register(sales, ana, {
        "medium": "call", "direction": "in", "status": "open",
        "subject": " Asked for a quote ", "body": "Wants 20 chairs",
        "occurred_at": "2026-11-20T10:30", "operator_id": str(manager.id),
    })  # fmt: skip
    db.session.commit()
    stored = db.session.get(Interaction, call.id)
    assert (stored.medium, stored.direction.value, stored.status, stored.subject) == (
        Medium.CALL, "in", InteractionStatus.OPEN, "Asked for a quote",
    )  # fmt: skip
    assert stored.operator_id == manager.id and stored.created_by_id == sales.id
    assert stored.occurred_at.strftime("%Y-%m-%d %H:%M") == "2026-11-20 10:30"
    interactions.set_status(sales, call.id, "archived")
    db.session.commit()
    assert db.session.get(Interaction, call.id).status == InteractionStatus.ARCHIVED
    assert [i.id for i in interactions.interactions_of_contact(manager, ana.id)] == [call.id]


def test_a_bad_interaction_is_refused_field_by_field(manager, make_user, make_contact):
    ana = make_contact(manager, first_name="Ana")
    gone = make_user("crm_sales", active=False)
    with pytest.raises(ValidationFailed) as refused:
        interactions.register(manager, ana, {
            "medium": "pigeon", "direction": "sideways", "subject": "",
            "occurred_at": "yesterday", "operator_id": str(gone.id),
        })  # fmt: skip
    assert set(refused.value.errors) == {"medium", "direction", "subject", "occurred_at",
                                         "operator"}  # fmt: skip
    with pytest.raises(PermissionDenied):
        interactions.register(make_user("crm_list_manager"), ana, {"medium": "call",
                                                                   "subject": "x"})  # fmt: skip
    assert count(Interaction) == 0


def test_interactions_of_hidden_contacts_are_not_listed(manager, sales, make_contact, hidden_class):
    kai = make_contact(manager, first_name="Kai", access_class=hidden_class)
    made = interactions.register(manager, kai, {"medium": "letter", "subject": "Contract"})
    db.session.commit()
    assert interactions.interactions_of_contact(sales, kai.id) == []
    assert interactions.get_visible_interaction(sales, made.id) is None
    assert db.session.scalars(interactions.visible_interactions(sales)).all() == []
    with pytest.raises(NotFound):
        interactions.set_status(sales, made.id, "closed")


# ---- connections ------------------------------------------------------------------------
def test_a_connection_shows_on_both_cards_with_its_own_name_at_each_end(manager, make_contact):
    anna = make_contact(manager, first_name="Anna")
    bob = make_contact(manager, first_name="Bob")
    connections.connect(manager, anna, bob.id, _type("Assistant").id, "since 2024")
    db.session.commit()
    assert [(link.label, link.other.first_name, link.note)
            for link in connections.connections_of(manager, anna)] == [
        ("Assistant", "Bob", "since 2024")]  # fmt: skip
    assert [(link.label, link.other.first_name) for link in connections.connections_of(
        manager, bob)] == [("Assistant to", "Anna")]  # fmt: skip


def test_the_manager_field_is_a_connection_seen_from_both_sides(manager, make_contact):
    boss = make_contact(manager, first_name="Boss")
    ana = make_contact(manager, first_name="Ana")
    ana.manager_id = boss.id
    apply_contact_rules(manager, ana, is_new=False)
    db.session.commit()
    assert [(lk.label, lk.other.first_name) for lk in connections.connections_of(manager, ana)] == [
        ("Manager", "Boss")
    ]
    assert [
        (lk.label, lk.other.first_name) for lk in connections.connections_of(manager, boss)
    ] == [("Manages", "Ana")]


def test_bad_connections_are_refused(manager, sales, make_contact, hidden_class):
    anna = make_contact(manager, first_name="Anna")
    bob = make_contact(manager, first_name="Bob")
    kai = make_contact(manager, first_name="Kai", access_class=hidden_class)
    colleague = _type("Colleague").id
    bad = [(anna.id, colleague, "other_id"), (kai.id, colleague, "other_id"),
           (bob.id, 9999, "type_id"), ("x" * 40, colleague, "other_id")]  # fmt: skip
    for other, kind, field in bad:
        with pytest.raises(ValidationFailed) as refused:
            connections.connect(sales, anna, other, kind)
        assert field in refused.value.errors
    connections.connect(sales, anna, bob.id, colleague)
    db.session.commit()
    # Colleague reads the same both ways: Bob -> Anna is the same link.
    with pytest.raises(ValidationFailed):
        connections.connect(sales, bob, anna.id, colleague)
    db.session.rollback()
    # A connection whose other end the user cannot see is neither shown nor removable.
    hidden = connections.connect(manager, anna, kai.id, colleague)
    db.session.commit()
    assert [lk.other.first_name for lk in connections.connections_of(sales, anna)] == ["Bob"]
    with pytest.raises(NotFound):
        connections.disconnect(sales, hidden.id)


def test_a_used_connection_type_is_deactivated_not_deleted(make_user, manager, make_contact):
    anna = make_contact(manager, first_name="Anna")
    bob = make_contact(manager, first_name="Bob")
    lister = make_user("crm_list_manager")
    mentor = ConnectionType(name="Mentor", inverse_name="")
    save_lookup(lister, mentor)
    db.session.add(mentor)
    db.session.commit()
    assert mentor.inverse_name == "Mentor"  # empty: the same name from both ends
    connections.connect(manager, anna, bob.id, mentor.id)
    db.session.commit()
    from crm.errors import DomainError

    with pytest.raises(DomainError, match="used by 1 connection"):
        delete_lookup(lister, mentor)


def test_a_merge_moves_connections_and_leaves_a_link_between_the_merged_pair(manager, make_contact):
    anna = make_contact(manager, first_name="Anna", email="anna@example.com")
    copy = make_contact(manager, first_name="Anna", email="anna2@example.com")
    bob = make_contact(manager, first_name="Bob")
    colleague = _type("Colleague").id
    moved = connections.connect(manager, copy, bob.id, colleague)
    between = connections.connect(manager, bob, copy.id, _type("Assistant").id)
    self_link = connections.connect(manager, anna, copy.id, _type("Spouse").id)
    db.session.commit()
    record = merge_contacts(manager, [anna.id, copy.id], master_id=anna.id)
    db.session.commit()
    assert db.session.get(Connection, moved.id).contact_id == anna.id
    assert db.session.get(Connection, between.id).other_id == anna.id
    # Anna is not her own spouse: that link stays with the merged record.
    assert db.session.get(Connection, self_link.id).other_id == copy.id
    labels = sorted(lk.label for lk in connections.connections_of(manager, anna))
    assert labels == ["Assistant to", "Colleague"]
    undo_merge(an_admin(), record)
    db.session.commit()
    assert db.session.get(Connection, moved.id).contact_id == copy.id
    assert db.session.get(Connection, between.id).other_id == copy.id
