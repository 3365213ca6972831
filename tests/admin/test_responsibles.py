"""Contacts → Responsibles: users with their contact counts, each linking to their contacts."""

from __future__ import annotations

import html
import re

from crm.extensions import db
from crm.models.base import utcnow


def responsibles(page: str) -> dict[str, tuple[str, int]]:
    """The page's rows as the user sees them: name -> (link, count)."""
    found = {}
    for href, name, count in re.findall(
        r'<a href="([^"]+)" class="crm-responsible[^"]*">([^<]+)</a>.*?'
        r'class="crm-responsible-count">(\d+)</a>',
        page,
        re.S,
    ):
        found[html.unescape(name)] = (html.unescape(href), int(count))
    return found


def shown_contacts(page: str) -> set[int]:
    return {int(i) for i in re.findall(r'href="/admin/contact/details/\?id=(\d+)', page)}


def test_responsibles_page_counts_and_links(client, login_as, make_user, make_contact):
    ana = make_user("crm_sales", email="ana@example.com")
    ana.full_name = "Ana Advisor"
    bob = make_user("crm_manager", email="bob@example.com")
    bob.full_name = "Bob Boss"
    db.session.commit()
    anas = {
        make_contact(first_name="A1", responsible_id=ana.id).id,
        make_contact(first_name="A2", responsible_id=ana.id, active=False).id,
    }
    trashed = make_contact(first_name="A3", responsible_id=ana.id)
    trashed.deleted_at = utcnow()
    bobs = {make_contact(first_name="B1", responsible_id=bob.id).id}
    nobodys = {make_contact(first_name="N1").id, make_contact(first_name="N2").id}
    db.session.commit()

    login_as("crm_marketeer")
    page = client.get("/admin/responsibles/")
    assert page.status_code == 200
    rows = responsibles(page.get_data(as_text=True))
    assert rows["Ana Advisor"] == (f"/admin/contact/?flt0_responsible_is={ana.id}&show=all", 2)
    assert rows["Bob Boss"] == (f"/admin/contact/?flt0_responsible_is={bob.id}&show=all", 1)
    assert rows["Nobody responsible"] == ("/admin/contact/?flt0_responsible_is=none&show=all", 2)
    for name, wanted in [
        ("Ana Advisor", anas),
        ("Bob Boss", bobs),
        ("Nobody responsible", nobodys),
    ]:
        listing = client.get(rows[name][0])
        assert listing.status_code == 200
        assert shown_contacts(listing.get_data(as_text=True)) == wanted, name


def test_an_inactive_user_still_in_charge_is_listed_and_marked(
    client, login_as, make_user, make_contact
):
    left = make_user("crm_sales", email="left@example.com", active=False)
    left.full_name = "Lee Left"
    db.session.commit()
    make_contact(first_name="L1", responsible_id=left.id)
    login_as("crm_sales")
    page = client.get("/admin/responsibles/").get_data(as_text=True)
    assert responsibles(page)["Lee Left"][1] == 1
    assert "inactive user" in page


def test_responsibles_need_contact_view(client, login_as):
    assert client.get("/admin/responsibles/").headers["Location"].startswith("/login?next=")
    login_as("crm_list_manager")
    assert client.get("/admin/responsibles/").status_code == 403
    menu = client.get("/admin/").get_data(as_text=True)
    assert 'href="/admin/responsibles/"' not in menu
