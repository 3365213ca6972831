"""Segments, marketing lists and saved views through the admin."""

from __future__ import annotations

import re

from sqlalchemy import select

from crm.extensions import db
from crm.models import Contact, MarketingList, SavedView, Segment, SegmentKind
from crm.services.contacts.bulk import add_tags
from tests.admin.helpers import field_errors, post_form
from tests.conftest import csrf_from


def _names(html: str) -> list[str]:
    return sorted(re.findall(r'href="/admin/contact/details/\?id=\d+[^"]*">([^<]+)</a>', html))


def _bulk(client, url: str, **data):
    form = client.get(url).get_data(as_text=True)
    return client.post(
        url, data={"confirm": "y", "csrf_token": csrf_from(form), **data}, follow_redirects=True
    )


def test_static_segment_members_are_hand_picked(client, login_as, make_contact):
    ana, bo = (
        make_contact(first_name="Ana", last_name="A"),
        make_contact(first_name="Bo", last_name="B"),
    )
    login_as("crm_sales")
    response = post_form(client, "/admin/segments/new/", {"name": "Fair 2026", "kind": "static"})
    assert response.status_code == 302, field_errors(response.get_data(as_text=True))
    segment = db.session.scalar(select(Segment))
    page = _bulk(
        client,
        f"/admin/contact/bulk/?target=ids&ids={ana.id}",
        operation="add_to_segment",
        segment=str(segment.id),
    )
    assert "Add to segment Fair 2026: 1 contact(s) changed." in page.get_data(as_text=True)
    listing = client.get("/admin/segments/").get_data(as_text=True)
    assert "1 member(s)" in listing
    members = client.get(f"/admin/contact/?flt0_segment_is={segment.id}&show=all")
    assert _names(members.get_data(as_text=True)) == ["Ana A"]
    _bulk(
        client,
        f"/admin/contact/bulk/?target=ids&ids={ana.id},{bo.id}",
        operation="remove_from_segment",
        segment=str(segment.id),
    )
    members = client.get(f"/admin/contact/?flt0_segment_is={segment.id}&show=all")
    assert _names(members.get_data(as_text=True)) == []


def test_dynamic_segment_is_a_saved_filter_computed_when_opened(
    client, login_as, make_contact, make_user
):
    manager = make_user("crm_manager")
    vip = make_contact(first_name="Vera", last_name="Vip")
    add_tags(manager, select(Contact.id).where(Contact.id == vip.id), ["VIP"])
    db.session.commit()
    login_as("crm_marketeer")
    listing = client.get("/admin/contact/?flt0_tag_is=VIP").get_data(as_text=True)
    link = re.search(r'id="save-segment"[^>]*|href="([^"]*segments/new[^"]*)"', listing)
    assert link
    new_form = client.get("/admin/segments/new/?query=flt0_tag_is%3DVIP").get_data(as_text=True)
    assert 'value="flt0_tag_is=VIP"' in new_form
    response = post_form(
        client,
        "/admin/segments/new/?query=flt0_tag_is%3DVIP",
        {"name": "VIPs", "kind": "dynamic", "query": "flt0_tag_is=VIP&page=4"},
    )
    assert response.status_code == 302
    segment = db.session.scalar(select(Segment))
    assert segment.kind == SegmentKind.DYNAMIC and segment.query == "flt0_tag_is=VIP"
    later = make_contact(first_name="Lars", last_name="Later")
    add_tags(manager, select(Contact.id).where(Contact.id == later.id), ["vip"])
    db.session.commit()
    segments_page = client.get("/admin/segments/").get_data(as_text=True)
    url = re.search(r'href="(/admin/contact/\?flt0_tag_is=VIP)"', segments_page).group(1)
    assert _names(client.get(url).get_data(as_text=True)) == ["Lars Later", "Vera Vip"]
    empty = post_form(client, "/admin/segments/new/", {"name": "Empty", "kind": "dynamic"})
    assert "A dynamic segment needs a filter" in field_errors(empty.get_data(as_text=True))


def test_marketing_list_members_are_flagged_not_dropped(client, login_as, make_contact):
    yes = make_contact(first_name="Yes", last_name="Y", email_marketing=True)
    no = make_contact(first_name="No", last_name="N", do_not_email=True)
    mlist = MarketingList(name="Newsletter")
    db.session.add(mlist)
    db.session.commit()
    login_as("crm_marketeer")
    form = client.get("/admin/contact/bulk/?target=matching").get_data(as_text=True)
    assert 'value="add_to_marketing_list"' not in form  # SimpleOne: sales and managers only
    client.post(
        "/logout", data={"csrf_token": csrf_from(client.get("/logout").get_data(as_text=True))}
    )

    login_as("crm_sales")
    page = _bulk(
        client,
        f"/admin/contact/bulk/?target=ids&ids={yes.id},{no.id}",
        operation="add_to_marketing_list",
        marketing_list=str(mlist.id),
    )
    text = page.get_data(as_text=True)
    assert "2 contact(s) changed" in text and "1 of them do not accept marketing email" in text
    members = client.get(f"/admin/marketing-lists/members/?id={mlist.id}").get_data(as_text=True)
    assert 'id="member-total">2<' in members and "do not email" in members
    token = csrf_from(members)
    client.post(
        f"/admin/marketing-lists/members/?id={mlist.id}",
        data={"contact_id": [str(no.id)], "csrf_token": token},
    )
    members = client.get(f"/admin/marketing-lists/members/?id={mlist.id}").get_data(as_text=True)
    assert 'id="member-total">1<' in members and "No N" not in members


def test_saved_views_are_personal_and_in_the_menu(client, app, login_as, make_user):
    login_as("crm_sales")
    listing = client.get("/admin/contact/?flt0_city_is=Berlin&page=3").get_data(as_text=True)
    query = re.search(r'name="query" value="([^"]*)"', listing).group(1)
    assert query == "flt0_city_is=Berlin"
    response = client.post(
        "/admin/contact/views/save/",
        data={"name": "Berliners", "query": query, "csrf_token": csrf_from(listing)},
    )
    assert response.status_code == 302
    home = client.get("/admin/").get_data(as_text=True)
    assert "My views" in home and 'href="/admin/contact/?flt0_city_is=Berlin">Berliners<' in home
    view_id = db.session.scalar(select(SavedView.id))
    other = app.test_client()
    from tests.conftest import login

    login(other, make_user("crm_sales").email)
    assert "Berliners" not in other.get("/admin/").get_data(as_text=True)
    other_token = csrf_from(other.get("/admin/contact/").get_data(as_text=True))
    other.post("/admin/contact/views/delete/", data={"id": view_id, "csrf_token": other_token})
    assert db.session.get(SavedView, view_id) is not None  # not theirs to delete
    client.post(
        "/admin/contact/views/delete/", data={"id": view_id, "csrf_token": csrf_from(listing)}
    )
    assert db.session.get(SavedView, view_id) is None


def _headers(html: str) -> list[str]:
    head = html.split("<thead>", 1)[1].split("</thead>", 1)[0]
    cells = re.findall(r'<th class="column-header[^"]*">(.*?)</th>', head, re.S)
    return [re.sub(r"<[^>]+>|\s+", " ", cell).strip() for cell in cells]


def test_a_user_chooses_the_list_columns_and_a_saved_view_keeps_them(
    client, login_as, make_contact
):
    make_contact(
        first_name="Ana",
        last_name="Berg",
        email="zed@example.com",
        job_title="Buyer",
        addresses=[{"type": "Main", "city": "Berlin", "country": "DE"}],
    )
    make_contact(first_name="Bo", last_name="Adler", email="amy@example.com")
    login_as("crm_sales")
    default = client.get("/admin/contact/").get_data(as_text=True)
    assert _headers(default) == [
        "Name", "Account", "Email", "Tags", "Phone", "Owner", "Customer status", "Updated",
    ]  # fmt: skip

    # The Columns form sends one `col` per box; the list answers with one short `cols`.
    chosen = client.get(
        "/admin/contact/?col=last_name&col=addresses&col=email&col=job_title&sort=3"
    )
    assert chosen.status_code == 302
    assert (
        chosen.headers["Location"]
        == "/admin/contact/?cols=last_name%2Cjob_title%2Cemail%2Caddresses"
    )
    listing = client.get(chosen.headers["Location"]).get_data(as_text=True)
    assert _headers(listing) == ["Name", "Job title", "Email", "City"]
    assert "Berlin, DE" in listing and "Buyer" in listing
    assert "Customer status" not in _headers(listing)

    # Sort links number the columns shown: the third is Email.
    by_email = client.get("/admin/contact/?cols=last_name,job_title,email,addresses&sort=2")
    html = by_email.get_data(as_text=True)
    assert html.index("Bo Adler") < html.index("Ana Berg")

    # Unknown or hostile column names fall back to the default columns.
    hostile = client.get("/admin/contact/?cols=%3Cscript%3E,nope")
    assert hostile.status_code == 200
    assert _headers(hostile.get_data(as_text=True))[:2] == ["Name", "Account"]
    assert "<script>,nope" not in hostile.get_data(as_text=True)

    query = re.search(r'name="query" value="([^"]*)"', listing).group(1)
    assert query == "cols=last_name%2Cjob_title%2Cemail%2Caddresses"
    client.post(
        "/admin/contact/views/save/",
        data={"name": "Buyers", "query": query, "csrf_token": csrf_from(listing)},
    )
    saved = db.session.scalar(select(SavedView).where(SavedView.name == "Buyers"))
    assert saved.query == query
    again = client.get("/admin/contact/?" + saved.query).get_data(as_text=True)
    assert _headers(again) == ["Name", "Job title", "Email", "City"]
