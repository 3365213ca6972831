"""Contacts > Possible duplicates, the "Merge…" bulk action and old links of merged contacts,
through the real admin pages (CSRF on)."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import func, select

from crm.admin import duplicates as duplicates_page
from crm.extensions import db
from crm.models import AccessClass, Account, Contact, NotDuplicate
from crm.models.base import utcnow
from crm.services.contacts import selection
from tests.conftest import csrf_from

PAGE = "/admin/duplicates/"


def mobile(number: str) -> list[dict]:
    return [{"type": "Mobile", "country_code": "GB", "number": number}]


def text_of(response) -> str:
    """The page's text as a user reads it (tags dropped, entities decoded)."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


def groups_on(page_html: str) -> list[list[int]]:
    """The contact ids of each group shown, from its merge checkboxes."""
    groups = []
    for block in page_html.split('class="card mb-3 duplicate-group"')[1:]:
        groups.append([int(i) for i in re.findall(r'name="ids" value="(\d+)" form=', block)])
    return groups


def flashes(response) -> str:
    """The text of the page's alert boxes."""
    found = re.findall(
        r'class="alert[^"]*"[^>]*>(.*?)</div>', response.get_data(as_text=True), re.S
    )
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", " ".join(found))).split())


@pytest.fixture
def people(make_user, make_contact):
    """Two groups of duplicates (an email pair at Acme, a phone pair of consumers) and a
    contact like nobody else."""
    admin = make_user("crm_admin")
    acme = Account(name="Acme & Sons")
    db.session.add(acme)
    db.session.commit()
    ana = make_contact(
        admin,
        first_name="Ana",
        last_name="Smith",
        email="ana@example.com",
        kind="b2b",
        account=acme,
    )
    anna = make_contact(
        admin,
        first_name="Anna",
        last_name="Smyth",
        email_secondary="ana@example.com",
    )
    bo = make_contact(admin, first_name="Bo", last_name="Lee", phones=mobile("07400 123456"))
    bob = make_contact(admin, first_name="Bob", last_name="Li", phones=mobile("+44 7400-123-456"))
    cy = make_contact(admin, first_name="Cy", last_name="Other", email="cy@example.com")
    return {"ana": ana.id, "anna": anna.id, "bo": bo.id, "bob": bob.id, "cy": cy.id}


def test_a_manager_sees_each_group_with_its_contacts_reasons_and_score(client, login_as, people):
    login_as("crm_manager")
    response = client.get(PAGE)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert groups_on(page) == [[people["ana"], people["anna"]], [people["bo"], people["bob"]]]
    shown = text_of(response)
    assert "2 group(s) of possible duplicates" in shown
    assert "Score 95" in shown and "same email ana@example.com" in shown
    assert "Score 85" in shown and "same phone +447400123456" in shown
    assert "Acme & Sons" in shown  # the account, escaped in the page
    assert "Acme &amp; Sons" in page
    assert "+44 7400 123456" in shown  # phones as formatted
    assert f'href="/admin/contact/details/?id={people["ana"]}"' in page
    assert "Cy Other" not in shown
    # Each group: a GET form to the merge page with its members ticked, and a CSRF-protected
    # "Not duplicates" post.
    assert page.count('action="/admin/merge/contacts/" id="merge-group-') == 2
    assert f'name="ids" value="{people["bo"]}" form="merge-group-2" checked' in page
    assert page.count('action="/admin/duplicates/not-duplicates/"') == 2
    assert 'name="csrf_token"' in page
    # The page is in the Contacts menu.
    assert 'href="/admin/duplicates/"' in client.get("/admin/").get_data(as_text=True)


@pytest.mark.parametrize("role", ["crm_sales", "crm_marketeer", "crm_list_manager"])
def test_roles_without_the_merge_right_are_refused(client, login_as, people, role):
    login_as(role)
    assert client.get(PAGE).status_code == 403
    assert 'href="/admin/duplicates/"' not in client.get("/admin/").get_data(as_text=True)
    token = csrf_from(client.get("/admin/").get_data(as_text=True))
    response = client.post(
        PAGE + "not-duplicates/",
        data={"ids": [people["ana"], people["anna"]], "csrf_token": token},
    )
    assert response.status_code == 403
    assert db.session.scalar(select(func.count()).select_from(NotDuplicate)) == 0
    if role != "crm_list_manager":  # list managers do not see contacts at all
        listing = client.get("/admin/contact/").get_data(as_text=True)
        assert "Find duplicates among these" not in listing


def test_signed_out_visitors_go_to_the_login_page(client, people):
    response = client.get(PAGE)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_not_duplicates_is_remembered_and_the_group_leaves_the_page(client, login_as, people):
    login_as("crm_manager")
    page = client.get(PAGE).get_data(as_text=True)
    pair = [people["ana"], people["anna"]]
    response = client.post(
        PAGE + "not-duplicates/",
        data={"ids": pair, "csrf_token": csrf_from(page)},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "Marked as different people: Ana Smith, Anna Smyth" in flashes(response)
    assert groups_on(response.get_data(as_text=True)) == [[people["bo"], people["bob"]]]
    assert db.session.scalar(select(func.count()).select_from(NotDuplicate)) == 1


def test_not_duplicates_without_a_csrf_token_is_refused(client, login_as, people):
    login_as("crm_manager")
    response = client.post(PAGE + "not-duplicates/", data={"ids": [people["ana"], people["anna"]]})
    assert response.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(NotDuplicate)) == 0


def test_bad_ids_are_refused_with_a_message(client, login_as, people):
    login_as("crm_manager")
    token = csrf_from(client.get(PAGE).get_data(as_text=True))
    trashed = db.session.get(Contact, people["cy"])
    trashed.deleted_at = utcnow()  # in the trash: out of everyone's sight here
    db.session.commit()
    cases = {
        "one contact": [people["ana"]],
        "none": [],
        "not a number": [people["ana"], "x"],
        "unknown": [people["ana"], 999_999],
        "in the trash": [people["ana"], people["cy"]],
    }
    for case, ids in cases.items():
        response = client.post(
            PAGE + "not-duplicates/", data={"ids": ids, "csrf_token": token}, follow_redirects=True
        )
        assert response.status_code == 200, case
        assert "Choose two or more contacts" in flashes(response), case
        assert "Marked as different people" not in flashes(response), case
    assert db.session.scalar(select(func.count()).select_from(NotDuplicate)) == 0


def test_find_duplicates_among_the_list_s_matches_or_the_selection(client, login_as, people):
    user = login_as("crm_manager")
    listing = client.get("/admin/contact/?search=lee&show=all").get_data(as_text=True)
    link = re.search(r'id="find-duplicates"\s+href="([^"]+)"', listing).group(1)
    link = html.unescape(link)
    assert link == "/admin/duplicates/?among=matching&search=lee&show=all"
    # Bo Lee alone matches "lee": no pair to show.
    response = client.get(link)
    assert "Comparing the contacts matching the contact list: 1 contact(s)." in text_of(response)
    assert "Fewer than two contacts to compare" in text_of(response)
    # A filter: the contacts with a phone are Bo and Bob, who share it.
    response = client.get(PAGE + "?among=matching&flt0_has_phone_is=1&show=all")
    assert groups_on(response.get_data(as_text=True)) == [[people["bo"], people["bob"]]]
    assert "Back to the list" in text_of(response)
    # The selection: Ana, Anna and Cy.
    selection.add(user, [people["ana"], people["anna"], people["cy"]])
    db.session.commit()
    response = client.get(PAGE + "?among=selection")
    assert "Comparing your selected contacts: 3 contact(s)." in text_of(response)
    assert groups_on(response.get_data(as_text=True)) == [[people["ana"], people["anna"]]]
    # "Not duplicates" comes back to the same set.
    token = csrf_from(response.get_data(as_text=True))
    back = client.post(
        PAGE + "not-duplicates/?among=selection",
        data={"ids": [people["ana"], people["anna"]], "csrf_token": token},
    )
    assert back.headers["Location"] == "/admin/duplicates/?among=selection"
    response = client.get(PAGE + "?among=selection")
    assert "No possible duplicates among these contacts" in text_of(response)


def test_a_set_too_large_is_not_compared(client, login_as, people, monkeypatch):
    user = login_as("crm_manager")
    monkeypatch.setattr(duplicates_page, "MAX_COMPARED", 4)
    response = client.get(PAGE)
    shown = text_of(response)
    assert response.status_code == 200
    assert "This set is too large to compare: more than 4 contacts" in shown
    assert "Narrow it on the contact list with a search or a filter" in shown
    assert groups_on(response.get_data(as_text=True)) == []
    # Narrowed by the selection, it is compared.
    selection.add(user, [people["bo"], people["bob"]])
    db.session.commit()
    response = client.get(PAGE + "?among=selection")
    assert groups_on(response.get_data(as_text=True)) == [[people["bo"], people["bob"]]]


def test_only_so_many_groups_are_shown_and_the_rest_counted(client, login_as, people, monkeypatch):
    login_as("crm_manager")
    monkeypatch.setattr(duplicates_page, "MAX_GROUPS", 1)
    response = client.get(PAGE)
    assert groups_on(response.get_data(as_text=True)) == [[people["ana"], people["anna"]]]
    assert "1 more group(s) are not shown" in text_of(response)


def test_an_unknown_set_is_refused_with_a_message(client, login_as, people):
    login_as("crm_manager")
    response = client.get(PAGE + "?among=everything")
    assert response.status_code == 302 and response.headers["Location"] == PAGE
    followed = client.get(response.headers["Location"])
    assert "Unknown set of contacts to compare" in flashes(followed)


def test_what_contacts_hold_is_shown_escaped(client, login_as, make_contact):
    evil = Account(name='<script>alert("x")</script>')
    db.session.add(evil)
    db.session.commit()
    for first in ("Eve", "Eva"):
        make_contact(
            first_name=first, last_name="Hack", email="eve@example.com", kind="b2b", account=evil
        )
    login_as("crm_admin")
    page = client.get(PAGE).get_data(as_text=True)
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page


# ---- With selected > Merge… -------------------------------------------------------------
def _merge_action(client, ids, token=True):
    page = client.get("/admin/contact/?show=all").get_data(as_text=True)
    data = {"action": "merge", "rowid": [str(i) for i in ids]}
    if token:
        data["csrf_token"] = csrf_from(page)
    return client.post("/admin/contact/action/", data=data)


def test_the_merge_action_opens_the_merge_page_for_two_to_ten_contacts(
    client, login_as, make_contact, people
):
    login_as("crm_manager")
    listing = client.get("/admin/contact/").get_data(as_text=True)
    assert "Merge…" in listing  # in the "With selected" menu
    response = _merge_action(client, [people["bob"], people["bo"]])
    assert response.status_code == 302
    assert response.headers["Location"] == (
        f"/admin/merge/contacts/?ids={people['bo']}&ids={people['bob']}"
    )
    many = [make_contact(first_name=f"Many{i}").id for i in range(11)]
    for ids in ([people["ana"]], [], many, [people["ana"], 999_999]):
        response = _merge_action(client, ids)
        assert "/admin/merge/" not in response.headers["Location"], ids
        followed = client.get(response.headers["Location"])
        assert "Tick two to ten contacts to merge." in flashes(followed), ids
    assert _merge_action(client, [people["ana"], people["anna"]], token=False).status_code == 400


@pytest.mark.parametrize("role", ["crm_sales", "crm_marketeer"])
def test_the_merge_action_is_not_offered_to_roles_without_the_merge_right(
    client, login_as, people, role
):
    login_as(role)
    assert "Merge…" not in client.get("/admin/contact/").get_data(as_text=True)
    response = _merge_action(client, [people["ana"], people["anna"]])
    assert response.status_code == 302
    assert "/admin/merge/" not in response.headers["Location"]


# ---- old links of merged contacts --------------------------------------------------------
def merge_into(merged: Contact, master: Contact) -> None:
    """What a merge leaves behind: a tombstone pointing at the master."""
    merged.merged_into_id = master.id
    merged.deleted_at = utcnow()
    db.session.commit()


def test_old_links_of_a_merged_contact_lead_to_the_contact_it_was_merged_into(
    client, login_as, make_contact
):
    master = make_contact(first_name="Ana", last_name="Pérez")
    middle = make_contact(first_name="Anna", last_name="Perez")
    oldest = make_contact(first_name="A.", last_name="Perez")
    merge_into(middle, master)
    merge_into(oldest, middle)  # merged twice: the link still finds the live contact
    login_as("crm_sales")
    for page in ("details", "edit"):
        response = client.get(f"/admin/contact/{page}/?id={oldest.id}&url=/admin/contact/")
        assert response.status_code == 302, page
        assert response.headers["Location"] == (
            f"/admin/contact/{page}/?id={master.id}&url=/admin/contact/"
        )
        followed = client.get(response.headers["Location"])
        assert followed.status_code == 200
        assert f"A. Perez (#{oldest.id}) was merged into this contact." in flashes(followed)
    # Saving an old edit form is not redirected: the merged contact is gone.
    token = csrf_from(client.get("/admin/contact/").get_data(as_text=True))
    response = client.post(
        f"/admin/contact/edit/?id={oldest.id}", data={"first_name": "X", "csrf_token": token}
    )
    assert response.status_code == 404


def test_an_old_link_is_a_404_when_the_final_contact_is_out_of_sight(
    client, login_as, make_user, make_contact
):
    admin = make_user("crm_admin")
    key = AccessClass(name="Key accounts")
    db.session.add(key)
    db.session.commit()
    hidden_master = make_contact(admin, first_name="Kai", last_name="Key", access_class=key)
    merged = make_contact(admin, first_name="Kay", last_name="Key")
    merge_into(merged, hidden_master)
    trashed_master = make_contact(admin, first_name="Tim", last_name="Trash")
    merged_too = make_contact(admin, first_name="Tom", last_name="Trash")
    merge_into(merged_too, trashed_master)
    trashed_master.deleted_at = utcnow()
    db.session.commit()
    login_as("crm_sales")
    for contact in (merged, merged_too):
        response = client.get(f"/admin/contact/details/?id={contact.id}")
        assert response.status_code == 404
        assert "merged" not in response.get_data(as_text=True)
    assert client.get("/admin/contact/details/?id=999999").status_code == 404
