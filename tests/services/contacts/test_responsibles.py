"""services.responsibles: who is in charge of how many contacts, through the visibility gate."""

from __future__ import annotations

import pytest

from crm.errors import PermissionDenied
from crm.extensions import db
from crm.models.base import utcnow
from crm.services.contacts.responsibles import ResponsibleCount, responsible_counts
from tests.services.lists.test_tags import statements


def by_user(rows: list[ResponsibleCount]) -> dict[int | None, ResponsibleCount]:
    return {row.user_id: row for row in rows}


def test_counts_per_responsible_user(make_user, make_contact):
    viewer = make_user("crm_sales", email="viewer@example.com")
    ana = make_user("crm_sales", email="ana@example.com")
    bob = make_user("crm_manager", email="bob@example.com")
    left = make_user("crm_sales", email="left@example.com", active=False)
    gone = make_user("crm_sales", email="gone@example.com", active=False)
    for name in ("A1", "A2"):
        make_contact(first_name=name, responsible_id=ana.id)
    make_contact(first_name="A3", responsible_id=ana.id, active=False)  # inactive: counted
    trashed = make_contact(first_name="A4", responsible_id=ana.id)
    trashed.deleted_at = utcnow()  # in the trash: not counted
    make_contact(first_name="B1", responsible_id=bob.id)
    make_contact(first_name="L1", responsible_id=left.id)
    make_contact(first_name="N1")
    make_contact(first_name="N2")
    db.session.commit()

    rows = responsible_counts(viewer)
    counts = by_user(rows)
    assert counts[ana.id] == ResponsibleCount(ana.id, str(ana), "ana@example.com", True, 3)
    assert counts[bob.id].contacts == 1
    assert counts[viewer.id].contacts == 0  # active users are listed even with none
    assert counts[left.id].contacts == 1 and counts[left.id].active is False
    assert gone.id not in counts  # inactive and in charge of nobody: not listed
    assert rows[-1] == ResponsibleCount(None, "Nobody responsible", "", True, 2)
    assert sum(row.contacts for row in rows) == 7


def test_users_come_by_name(make_user):
    zed = make_user("crm_sales", email="zed@example.com")
    zed.full_name = "Zed Zimmer"
    amy = make_user("crm_sales", email="amy@example.com")
    amy.full_name = "amy Adams"
    db.session.commit()
    names = [row.name for row in responsible_counts(zed)]
    assert names.index("amy Adams") < names.index("Zed Zimmer")
    assert names[-1] == "Nobody responsible"


def test_counting_does_not_query_per_user(make_user, make_contact):
    users = [make_user("crm_sales") for _ in range(10)]
    for user in users:
        make_contact(first_name="X", responsible_id=user.id)
    assert users[0].role_names  # loaded before counting
    with statements() as seen:
        rows = responsible_counts(users[0])
    assert len(rows) >= 11
    # Whether access classes exist, the grouped counts (all, then the trash's), the users:
    # the same few statements however many users there are.
    for user in [make_user("crm_sales") for _ in range(10)]:
        make_contact(first_name="Y", responsible_id=user.id)
    assert users[0].role_names  # loaded again after the commits
    with statements() as again:
        assert len(responsible_counts(users[0])) >= 21
    assert len(again) == len(seen) <= 4


def test_refused_without_contact_view(make_user):
    with pytest.raises(PermissionDenied):
        responsible_counts(make_user("crm_list_manager"))
