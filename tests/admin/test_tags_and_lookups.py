"""The tag cloud, tag management (rename, merge, delete) and the category and criterion
lookup lists, as users see them: real pages, real posts, CSRF on."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import insert, select

from crm.extensions import db
from crm.models import (
    Account,
    AuditEntry,
    Category,
    Contact,
    Criterion,
    CriterionScope,
    Tag,
    account_criteria,
    contact_categories,
    contact_criteria,
)
from crm.models.base import utcnow
from crm.services.lists.tags import tags_for_names
from tests.admin.helpers import field_errors, post_form
from tests.conftest import csrf_from
from tests.db_state import tag_links


def tagged(make_contact, first_name: str, *names: str, **fields) -> Contact:
    contact = make_contact(first_name=first_name, last_name="Tagged", **fields)
    if names:
        contact.tags.extend(tags_for_names(list(names)))
        db.session.commit()
    return contact


def tag(name: str) -> Tag | None:
    return db.session.scalar(select(Tag).where(Tag.key == name.lower()))


links = tag_links


def shown_contacts(page: str) -> set[int]:
    """The ids of the contacts a list page shows (their name links)."""
    return {int(i) for i in re.findall(r'href="/admin/contact/details/\?id=(\d+)', page)}


def cloud(page: str) -> dict[str, tuple[str, int, float]]:
    """The cloud's tags as the user sees them: name -> (link, count, font size in rem)."""
    found = {}
    for href, size, count, name in re.findall(
        r'<a class="crm-tag" href="([^"]+)" style="font-size: ([\d.]+)rem"\s+title="[^"]*"'
        r' data-count="(\d+)"><span class="crm-tag-name">([^<]+)</span>',
        page,
    ):
        found[html.unescape(name)] = (html.unescape(href), int(count), float(size))
    return found


def flashes(page: str) -> str:
    return html.unescape(
        " ".join(re.findall(r'<div class="alert[^"]*"[^>]*>(.*?)</div>', page, re.S))
    )


# ---- the cloud --------------------------------------------------------------------------


def test_cloud_shows_counts_of_visible_contacts_sized_by_count(client, login_as, make_contact):
    for name in ("Ana", "Bo", "Cy"):
        tagged(make_contact, name, "VIP")
    tagged(make_contact, "Di", "R&D team", "VIP", active=False)
    gone = tagged(make_contact, "Ed", "R&D team", "Old news")
    gone.deleted_at = utcnow()  # in the trash
    db.session.commit()
    login_as("crm_sales")
    page = client.get("/admin/tags/")
    assert page.status_code == 200
    shown = cloud(page.get_data(as_text=True))
    assert {name: count for name, (_, count, _) in shown.items()} == {"R&D team": 1, "VIP": 4}
    assert shown["VIP"][2] > shown["R&D team"][2]  # the bigger count, the bigger font
    assert shown["VIP"][0] == "/admin/contact/?flt0_tag_is=VIP&show=all"
    assert shown["R&D team"][0] == "/admin/contact/?flt0_tag_is=R%26D+team&show=all"


def test_cloud_link_lists_exactly_the_tagged_contacts(client, login_as, make_contact):
    wanted = {
        tagged(make_contact, "Ana", "R&D team").id,
        tagged(make_contact, "Bo", "r&d TEAM", "VIP").id,
        tagged(make_contact, "Cy", "R&D team", active=False).id,  # shown: the link says all
    }
    tagged(make_contact, "Di", "VIP")
    tagged(make_contact, "Ed")
    gone = tagged(make_contact, "Fay", "R&D team")
    gone.deleted_at = utcnow()
    db.session.commit()
    login_as("crm_marketeer")
    link, count, _ = cloud(client.get("/admin/tags/").get_data(as_text=True))["R&D team"]
    listing = client.get(link)
    assert listing.status_code == 200
    assert shown_contacts(listing.get_data(as_text=True)) == wanted
    assert count == len(wanted)


def test_a_tag_without_visible_contacts_is_not_in_the_cloud(client, login_as, make_contact):
    gone = tagged(make_contact, "Ana", "Old news")
    gone.deleted_at = utcnow()
    tags_for_names(["Never used"])
    db.session.commit()
    login_as("crm_sales")
    page = client.get("/admin/tags/").get_data(as_text=True)
    assert cloud(page) == {}
    assert 'id="tag-cloud-empty"' in page


def test_cloud_is_refused_without_contact_view(client, login_as, make_contact):
    tagged(make_contact, "Ana", "VIP")
    assert client.get("/admin/tags/").status_code == 302  # signed out: to the login page
    login_as("crm_list_manager")
    assert client.get("/admin/tags/").status_code == 403
    menu = client.get("/admin/tags/manage/").get_data(as_text=True)
    assert 'href="/admin/tags/"' not in menu  # neither in the menu nor linked


@pytest.mark.parametrize(("role", "offered"), [("crm_admin", True), ("crm_sales", False)])
def test_tag_managers_are_offered_management_from_the_cloud(
    client, login_as, make_contact, role, offered
):
    tagged(make_contact, "Ana", "VIP")
    login_as(role)
    assert ('id="manage-tags"' in client.get("/admin/tags/").get_data(as_text=True)) is offered


# ---- tag management ---------------------------------------------------------------------


def test_tag_list_shows_every_tag_with_its_contacts(client, login_as, make_contact):
    tagged(make_contact, "Ana", "VIP", "Loyal")
    tagged(make_contact, "Bo", "VIP")
    tags_for_names(["Unused"])
    db.session.commit()
    login_as("crm_list_manager")
    page = client.get("/admin/tags/manage/").get_data(as_text=True)
    rows = dict(
        re.findall(
            r'<td class="col-name">\s*(\S[^<]*?)\s*</td>\s*<td class="col-contacts">\s*(\d+)', page
        )
    )
    assert rows == {"Loyal": "1", "Unused": "0", "VIP": "2"}
    assert "/admin/tags/manage/new/" not in page  # tags are created on contacts


def test_rename_through_the_edit_form(client, login_as, make_contact):
    tagged(make_contact, "Ana", "VIP")
    vip = tag("VIP")
    login_as("crm_list_manager")
    response = post_form(client, f"/admin/tags/manage/edit/?id={vip.id}", {"name": "Gold"})
    assert response.status_code == 302
    assert links() == {("Ana", "Gold")}
    assert tag("Gold").id == vip.id


def test_rename_to_nothing_shows_the_error_on_the_field(client, login_as, make_contact):
    tagged(make_contact, "Ana", "VIP")
    login_as("crm_list_manager")
    response = post_form(client, f"/admin/tags/manage/edit/?id={tag('VIP').id}", {"name": "  "})
    assert response.status_code == 200
    assert field_errors(response.get_data(as_text=True))
    assert links() == {("Ana", "VIP")}


def test_rename_onto_an_existing_tag_merges_them(client, login_as, make_contact):
    tagged(make_contact, "Ana", "VIP")
    tagged(make_contact, "Bo", "VIP", "Gold")
    tagged(make_contact, "Cy", "Gold")
    vip_id, gold_id = tag("VIP").id, tag("Gold").id
    login_as("crm_list_manager")
    page = client.get(f"/admin/tags/manage/edit/?id={gold_id}").get_data(as_text=True)
    assert "_continue_editing" not in page  # the tag may be gone after saving
    response = client.post(
        f"/admin/tags/manage/edit/?id={gold_id}",
        data={"name": "vip", "csrf_token": csrf_from(page)},
        follow_redirects=True,
    )
    assert "'Gold' was merged into 'VIP'." in flashes(response.get_data(as_text=True))
    assert links() == {("Ana", "VIP"), ("Bo", "VIP"), ("Cy", "VIP")}
    assert db.session.get(Tag, gold_id) is None and tag("VIP").id == vip_id


def test_merge_three_tags_from_the_list(client, login_as, make_contact):
    tagged(make_contact, "One", "Alpha", "Beta", "Gamma")
    tagged(make_contact, "Two", "Alpha", "Keep")
    tagged(make_contact, "Three", "Keep", "Other")
    tagged(make_contact, "Four", "Gamma", "Gamma ray")
    ids = {name: tag(name).id for name in ("Alpha", "Beta", "Gamma", "Keep")}
    login_as("crm_list_manager")
    token = csrf_from(client.get("/admin/tags/manage/").get_data(as_text=True))
    chosen = client.post(
        "/admin/tags/manage/action/",
        data={"action": "merge", "rowid": [str(i) for i in ids.values()], "csrf_token": token},
    )
    assert chosen.status_code == 302
    assert chosen.headers["Location"].startswith("/admin/tags/manage/merge/?ids=")
    page = client.get(chosen.headers["Location"]).get_data(as_text=True)
    for name in ids:
        assert f">{name}</label>" in page
    # The tag with the most contacts is offered as the one to keep.
    assert re.search(
        rf'checked[^>]*value="{ids["Alpha"]}"|value="{ids["Alpha"]}"[^>]*checked', page
    )
    response = client.post(
        "/admin/tags/manage/merge/",
        data={"ids": list(ids.values()), "survivor": ids["Keep"], "csrf_token": csrf_from(page)},
        follow_redirects=True,
    )
    assert "into 'Keep': 2 contact(s) gained 'Keep'." in flashes(response.get_data(as_text=True))
    assert links() == {
        ("One", "Keep"),
        ("Two", "Keep"),
        ("Three", "Keep"),
        ("Three", "Other"),
        ("Four", "Keep"),
        ("Four", "Gamma ray"),
    }
    [entry] = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "merge_tags"))
    assert entry.entity_type == "tag" and entry.entity_id == ids["Keep"]
    assert entry.changes["tags"] == [["Alpha", "Beta", "Gamma"], "Keep"]


def test_merge_needs_two_tags(client, login_as, make_contact):
    tagged(make_contact, "Ana", "VIP")
    login_as("crm_list_manager")
    response = client.get(f"/admin/tags/manage/merge/?ids={tag('VIP').id}", follow_redirects=True)
    assert "Tick at least two tags to merge." in flashes(response.get_data(as_text=True))


def test_merge_refuses_a_survivor_outside_the_merged_tags(client, login_as, make_contact):
    tagged(make_contact, "Ana", "Alpha", "Beta", "Other")
    alpha, beta, other = (tag(n).id for n in ("Alpha", "Beta", "Other"))
    login_as("crm_list_manager")
    page = client.get(f"/admin/tags/manage/merge/?ids={alpha}&ids={beta}")
    response = client.post(
        "/admin/tags/manage/merge/",
        data={
            "ids": [alpha, beta],
            "survivor": other,
            "csrf_token": csrf_from(page.get_data(as_text=True)),
        },
    )
    assert response.status_code == 200  # the form again, with its error
    assert links() == {("Ana", "Alpha"), ("Ana", "Beta"), ("Ana", "Other")}


def test_delete_a_tag_after_confirming(client, login_as, make_contact):
    tagged(make_contact, "Ana", "VIP", "Loyal")
    tagged(make_contact, "Bo", "VIP")
    vip_id = tag("VIP").id
    login_as("crm_list_manager")
    listing = client.get("/admin/tags/manage/").get_data(as_text=True)
    assert f"/admin/tags/manage/confirm-delete/?id={vip_id}" in html.unescape(listing)
    page = client.get(f"/admin/tags/manage/confirm-delete/?id={vip_id}").get_data(as_text=True)
    assert "removed from the <strong>2</strong> contact(s)" in page
    assert links() == {("Ana", "VIP"), ("Ana", "Loyal"), ("Bo", "VIP")}  # asking deletes nothing
    response = client.post(
        f"/admin/tags/manage/confirm-delete/?id={vip_id}",
        data={"csrf_token": csrf_from(page)},
        follow_redirects=True,
    )
    assert "Tag 'VIP' deleted: removed from 2 contact(s)." in flashes(
        response.get_data(as_text=True)
    )
    assert links() == {("Ana", "Loyal")}
    assert db.session.get(Tag, vip_id) is None
    assert db.session.query(Contact).count() == 2
    assert client.get(f"/admin/tags/manage/confirm-delete/?id={vip_id}").status_code == 404


def test_delete_several_tags_with_the_list_action(client, login_as, make_contact):
    tagged(make_contact, "Ana", "VIP", "Loyal", "Kept")
    ids = [str(tag("VIP").id), str(tag("Loyal").id)]
    login_as("crm_admin")
    token = csrf_from(client.get("/admin/tags/manage/").get_data(as_text=True))
    response = client.post(
        "/admin/tags/manage/action/",
        data={"action": "delete", "rowid": ids, "csrf_token": token},
        follow_redirects=True,
    )
    assert "2 tag(s) deleted" in flashes(response.get_data(as_text=True))
    assert links() == {("Ana", "Kept")}


def _management_posts(ids: dict[str, int]) -> list[tuple[str, dict]]:
    """Every state-changing request of tag management, with the data it takes."""
    vip, gold = ids["VIP"], ids["Gold"]
    return [
        (f"/admin/tags/manage/edit/?id={vip}", {"name": "Renamed"}),
        ("/admin/tags/manage/action/", {"action": "merge", "rowid": [str(vip), str(gold)]}),
        ("/admin/tags/manage/action/", {"action": "delete", "rowid": [str(vip)]}),
        ("/admin/tags/manage/merge/", {"ids": [vip, gold], "survivor": vip}),
        (f"/admin/tags/manage/confirm-delete/?id={vip}", {}),
        ("/admin/tags/manage/delete/", {"id": vip}),
    ]


@pytest.mark.parametrize("role", ["crm_sales", "crm_manager", "crm_marketeer"])
def test_tag_management_is_refused_to_contact_roles(client, login_as, make_contact, role):
    tagged(make_contact, "Ana", "VIP", "Gold")
    ids = {"VIP": tag("VIP").id, "Gold": tag("Gold").id}
    login_as(role)
    token = csrf_from(client.get("/admin/contact/").get_data(as_text=True))
    for url in (
        "/admin/tags/manage/",
        f"/admin/tags/manage/edit/?id={ids['VIP']}",
        f"/admin/tags/manage/merge/?ids={ids['VIP']}&ids={ids['Gold']}",
        f"/admin/tags/manage/confirm-delete/?id={ids['VIP']}",
    ):
        assert client.get(url).status_code == 403, url
    for url, data in _management_posts(ids):
        response = client.post(url, data={**data, "csrf_token": token})
        assert response.status_code == 403, url
    assert links() == {("Ana", "VIP"), ("Ana", "Gold")}
    assert 'href="/admin/tags/manage/"' not in client.get("/admin/tags/").get_data(as_text=True)


def test_tag_management_posts_without_csrf_are_refused(client, login_as, make_contact):
    tagged(make_contact, "Ana", "VIP", "Gold")
    ids = {"VIP": tag("VIP").id, "Gold": tag("Gold").id}
    login_as("crm_list_manager")
    for url, data in _management_posts(ids):
        assert client.post(url, data=data).status_code == 400, url
        assert client.post(url, data={**data, "csrf_token": "forged"}).status_code == 400, url
    assert links() == {("Ana", "VIP"), ("Ana", "Gold")}
    assert db.session.query(AuditEntry).filter(AuditEntry.entity_type == "tag").count() == 0


# ---- categories and criteria ------------------------------------------------------------


def _delete(client, url: str, item_id: int) -> str:
    token = csrf_from(client.get(url).get_data(as_text=True))
    response = client.post(
        f"{url}delete/", data={"id": item_id, "csrf_token": token}, follow_redirects=True
    )
    return flashes(response.get_data(as_text=True))


def test_categories_are_a_lookup_list(client, login_as):
    login_as("crm_list_manager")
    page = client.get("/admin/categories/").get_data(as_text=True)
    seeded = db.session.scalars(select(Category.name)).all()
    assert seeded and all(html.escape(name) in page for name in seeded)
    response = post_form(
        client, "/admin/categories/new/", {"name": " Distributor ", "active": "y", "position": "9"}
    )
    assert response.status_code == 302
    assert db.session.scalar(select(Category).where(Category.name == "Distributor")).active is True
    duplicate = post_form(
        client, "/admin/categories/new/", {"name": "distributor", "position": "1"}
    )
    assert "'distributor' already exists." in field_errors(duplicate.get_data(as_text=True))


def test_a_category_in_use_cannot_be_deleted_but_can_be_deactivated(client, login_as, make_contact):
    first, unused = db.session.scalars(select(Category).order_by(Category.id).limit(2)).all()
    first_id, first_name, unused_id = first.id, first.name, unused.id
    contact = make_contact()
    trashed = make_contact(first_name="Bo")
    db.session.execute(
        insert(contact_categories),
        [
            {"contact_id": contact.id, "category_id": first_id},
            {"contact_id": trashed.id, "category_id": first_id},
        ],
    )
    trashed.deleted_at = utcnow()  # still counts: restored, it keeps its category
    db.session.commit()
    login_as("crm_list_manager")
    message = _delete(client, "/admin/categories/", first_id)
    assert f"{first_name!r} is used by 2 contact(s) and cannot be deleted." in message
    assert "Untick 'Active' instead" in message
    assert db.session.get(Category, first_id) is not None
    response = post_form(
        client, f"/admin/categories/edit/?id={first_id}", {"name": first_name, "position": "0"}
    )
    assert response.status_code == 302
    assert db.session.get(Category, first_id).active is False  # unticked: not posted
    _delete(client, "/admin/categories/", unused_id)
    assert db.session.get(Category, unused_id) is None


def test_criterion_form_offers_who_it_applies_to(client, login_as):
    login_as("crm_list_manager")
    page = client.get("/admin/criteria/new/").get_data(as_text=True)
    select_html = re.search(r'<select[^>]*name="applies_to".*?</select>', page, re.S).group(0)
    options = re.findall(r'<option[^>]*value="(\w+)"[^>]*>([^<]+)</option>', select_html)
    assert options == [(m.value, m.label) for m in CriterionScope]
    response = post_form(
        client,
        "/admin/criteria/new/",
        {"name": "Reseller", "applies_to": "companies", "active": "y", "position": "3"},
    )
    assert response.status_code == 302
    reseller = db.session.scalar(select(Criterion).where(Criterion.name == "Reseller"))
    assert reseller.applies_to is CriterionScope.COMPANIES
    listing = client.get("/admin/criteria/").get_data(as_text=True)
    assert "Companies (accounts)" in listing and "Offered for" in listing
    bad = post_form(client, "/admin/criteria/new/", {"name": "X", "applies_to": "planets"})
    assert bad.status_code == 200
    assert db.session.scalar(select(Criterion).where(Criterion.name == "X")) is None


def test_a_criterion_in_use_cannot_be_deleted(client, login_as, make_contact):
    both = db.session.scalar(
        select(Criterion).where(Criterion.applies_to == CriterionScope.BOTH).limit(1)
    )
    both_id, both_name = both.id, both.name
    contact = make_contact()
    account = Account(name="Acme")
    db.session.add(account)
    db.session.flush()
    db.session.execute(insert(contact_criteria).values(contact_id=contact.id, criterion_id=both_id))
    db.session.execute(insert(account_criteria).values(account_id=account.id, criterion_id=both_id))
    db.session.commit()
    login_as("crm_list_manager")
    message = _delete(client, "/admin/criteria/", both_id)
    assert (
        f"{both_name!r} is used by 1 contact(s) and 1 account(s) and cannot be deleted." in message
    )
    assert db.session.get(Criterion, both_id) is not None
    # Nor may it stop being offered to the accounts and contacts already using it.
    narrowed = post_form(
        client,
        f"/admin/criteria/edit/?id={both_id}",
        {"name": both_name, "applies_to": "individuals", "active": "y", "position": "0"},
    )
    assert "it must stay offered for companies" in field_errors(narrowed.get_data(as_text=True))
    assert db.session.get(Criterion, both_id).applies_to is CriterionScope.BOTH
    deactivated = post_form(
        client,
        f"/admin/criteria/edit/?id={both_id}",
        {"name": both_name, "applies_to": "both", "position": "0"},
    )
    assert deactivated.status_code == 302
    assert db.session.get(Criterion, both_id).active is False


def test_categories_and_criteria_are_for_list_managers_only(client, login_as):
    login_as("crm_sales")
    token = csrf_from(client.get("/admin/contact/").get_data(as_text=True))
    for url in ("/admin/categories/", "/admin/criteria/"):
        assert client.get(url).status_code == 403
        assert client.post(f"{url}delete/", data={"id": 1, "csrf_token": token}).status_code == 403
        assert client.post(f"{url}new/", data={"name": "X", "csrf_token": token}).status_code == 403
    assert db.session.get(Category, 1) is not None and db.session.get(Criterion, 1) is not None
