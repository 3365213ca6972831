"""Access classes through the admin: an administrator creates and grants classes; a user
without a class sees none of its contacts anywhere, by list, search, URL or action."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from crm.extensions import db
from crm.models import AccessClass, Account, Contact, MarketingList, Role, Segment, User
from crm.services.contacts.bulk import add_tags, add_to_marketing_list, add_to_segment
from tests.conftest import csrf_from, login


def _names(html: str) -> list[str]:
    return sorted(re.findall(r'href="/admin/contact/details/\?id=\d+[^"]*">([^<]+)</a>', html))


@pytest.fixture
def scene(make_user, make_contact):
    admin = make_user("crm_admin")
    seller = make_user("crm_sales", "crm_marketeer", email="seller@example.com")
    charge = make_user("crm_sales", email="charge@example.com")
    retail, key = AccessClass(name="Retail"), AccessClass(name="Key accounts")
    db.session.add_all([retail, key])
    retail.users.append(seller)
    bank = Account(name="Zeta Bank", access_class=key)
    db.session.add(bank)
    db.session.commit()
    rita = make_contact(admin, first_name="Rita", last_name="Retail", access_class=retail)
    kai = make_contact(
        admin,
        first_name="Kai",
        last_name="Keyman",
        account=bank,
        kind="b2b",
        responsible=charge,
        email="kai@zeta.example",
    )
    nora = make_contact(admin, first_name="Nora", last_name="None")
    everyone = select(Contact.id).where(Contact.id.in_([rita.id, kai.id, nora.id]))
    add_tags(admin, everyone, ["VIP"])
    segment, mlist = Segment(name="Fair"), MarketingList(name="News")
    db.session.add_all([segment, mlist])
    db.session.flush()
    add_to_segment(admin, everyone, segment.id)
    db.session.commit()
    manager = make_user("crm_manager")
    retail.users.append(manager)
    key.users.append(manager)
    add_to_marketing_list(manager, everyone, mlist.id)
    db.session.commit()
    assert kai.access_class_id == key.id  # taken from its account
    return {
        "seller": seller,
        "charge": charge,
        "rita": rita,
        "kai": kai,
        "nora": nora,
        "bank": bank,
        "segment": segment,
        "mlist": mlist,
    }


def test_a_user_without_the_class_sees_none_of_its_contacts_anywhere(client, scene):
    kai, bank = scene["kai"], scene["bank"]
    assert login(client, "seller@example.com").status_code == 302

    listing = client.get("/admin/contact/?show=all").get_data(as_text=True)
    assert _names(listing) == ["Nora None", "Rita Retail"]
    assert "2 contacts" in listing and "Key accounts" not in listing  # nor in the filters
    assert _names(client.get("/admin/contact/?search=keyman").get_data(as_text=True)) == []
    assert _names(client.get("/admin/contact/?search=zeta").get_data(as_text=True)) == []
    for url in (
        f"/admin/contact/details/?id={kai.id}",
        f"/admin/contact/edit/?id={kai.id}",
        f"/admin/account/details/?id={bank.id}",
        f"/admin/account/edit/?id={bank.id}",
    ):
        assert client.get(url).status_code == 404, url
    found = client.get("/admin/contact/ajax/lookup/?name=manager&query=keyman").get_json()
    assert found == []
    accounts = client.get("/admin/contact/ajax/lookup/?name=account&query=zeta").get_json()
    assert accounts == []
    assert "Zeta Bank" not in client.get("/admin/account/").get_data(as_text=True)

    cloud = client.get("/admin/tags/").get_data(as_text=True)
    assert re.search(r'data-count="2"><span class="crm-tag-name">VIP<', cloud)
    responsibles = client.get("/admin/responsibles/").get_data(as_text=True)
    row = re.search(r"charge@example\.com</td>\s*<td[^>]*><a[^>]*>(\d+)</a>", responsibles)
    assert row is not None and row.group(1) == "0"  # Kai, in their charge, is not counted
    home = client.get("/admin/").get_data(as_text=True)
    active = re.search(r'Active contacts</div><div class="h3 mb-0">([\d,]+)<', home)
    assert active is not None and active.group(1) == "2"
    assert "Keyman" not in home  # nor among the recently updated

    members = client.get(f"/admin/marketing-lists/members/?id={scene['mlist'].id}")
    assert "Keyman" not in members.get_data(as_text=True)
    assert "Rita" in members.get_data(as_text=True)
    segments = client.get("/admin/segments/").get_data(as_text=True)
    assert "Keyman" not in segments

    # Actions: the ids they receive are checked again.
    token = csrf_from(listing)
    page = client.post(
        "/admin/contact/action/",
        data={"action": "select", "rowid": [str(kai.id)], "csrf_token": token},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert _names(client.get("/admin/contact/?show=selected").get_data(as_text=True)) == []
    bulk = client.get(f"/admin/contact/bulk/?target=ids&ids={kai.id}").get_data(as_text=True)
    assert re.search(r'id="bulk-total">0<', bulk)
    matching = client.get("/admin/contact/bulk/?target=matching&flt0_tag_is=VIP&show=all")
    assert re.search(r'id="bulk-total">2<', matching.get_data(as_text=True))
    export = client.post(
        "/admin/contact/bulk/?target=matching&flt0_tag_is=VIP&show=all",
        data={"operation": "export", "csrf_token": token},
    )
    assert export.mimetype == "text/csv"
    csv = export.get_data(as_text=True)
    assert "Rita" in csv and "Keyman" not in csv and "kai@zeta" not in csv
    assert "Keyman" not in page


def test_the_responsible_user_sees_the_contact_in_their_charge(client, scene):
    assert login(client, "charge@example.com").status_code == 302
    listing = client.get("/admin/contact/?show=all").get_data(as_text=True)
    assert "Kai Keyman" in _names(listing)
    assert client.get(f"/admin/contact/details/?id={scene['kai'].id}").status_code == 200


def test_an_administrator_creates_a_class_and_grants_it(client, login_as, make_user, scene):
    login_as("crm_admin")
    form = client.get("/admin/access-classes/new/").get_data(as_text=True)
    seller = scene["seller"]
    sales_role = db.session.scalar(select(Role).where(Role.name == "crm_sales"))
    response = client.post(
        "/admin/access-classes/new/",
        data={
            "name": "Staff",
            "description": "Our own people",
            "users": [str(seller.id)],
            "roles": [str(sales_role.id)],
            "active": "y",
            "position": "0",
            "csrf_token": csrf_from(form),
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    staff = db.session.scalar(select(AccessClass).where(AccessClass.name == "Staff"))
    assert [u.email for u in staff.users] == ["seller@example.com"]
    assert [r.name for r in staff.roles] == ["crm_sales"]
    listing = client.get("/admin/access-classes/").get_data(as_text=True)
    assert "Staff" in listing and "flt0_access_class_is=" in listing
    assert re.search(r'flt0_access_class_is=\d+&amp;show=all">1 contact\(s\)<', listing)  # Kai

    # A class in use is not deleted: the message says why.
    key = db.session.scalar(select(AccessClass).where(AccessClass.name == "Key accounts"))
    page = client.post(
        "/admin/access-classes/delete/",
        data={"id": key.id, "csrf_token": csrf_from(listing)},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "used by 1 contact(s) and 1 account(s)" in page
    assert db.session.get(AccessClass, key.id) is not None


def test_managers_class_contacts_in_bulk_and_sales_may_not(client, app, login_as, make_user, scene):
    rita, nora = scene["rita"], scene["nora"]
    login_as("crm_sales")
    form = client.get(f"/admin/contact/bulk/?target=ids&ids={nora.id}").get_data(as_text=True)
    assert 'value="set_access_class"' not in form
    refused = client.post(
        f"/admin/contact/bulk/?target=ids&ids={nora.id}",
        data={
            "operation": "set_access_class",
            "access_class": "none",
            "confirm": "y",
            "csrf_token": csrf_from(form),
        },
    )
    assert refused.status_code == 200 and "not a valid choice" in refused.get_data(as_text=True)

    client = app.test_client()
    assert login(client, make_user("crm_admin").email).status_code == 302
    url = f"/admin/contact/bulk/?target=ids&ids={rita.id},{nora.id}"
    form = client.get(url).get_data(as_text=True)
    retail = db.session.scalar(select(AccessClass).where(AccessClass.name == "Retail"))
    done = client.post(
        url,
        data={
            "operation": "set_access_class",
            "access_class": str(retail.id),
            "confirm": "y",
            "csrf_token": csrf_from(form),
        },
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "Set access class to Retail: 1 contact(s) changed" in done
    db.session.expire_all()
    nora = db.session.get(Contact, nora.id)
    assert nora.access_class_id == retail.id
    assert nora.account.access_class_id == retail.id  # her own (B2C) account follows
    assert db.session.scalar(select(User.id).where(User.email == "seller@example.com"))


def test_ids_of_hidden_contacts_do_nothing_in_deletes_actions_and_the_trash(
    app, make_user, scene, monkeypatch
):
    """Where Flask-Admin loads a record by id (delete, actions, the trash), a contact the
    user may not see is not found: a matrix where managers see only granted classes."""
    from crm.auth.permissions import PERMISSIONS
    from tests.db_state import changed_tables, snapshot

    monkeypatch.setitem(PERMISSIONS, "contact.all_classes", frozenset({"crm_admin"}))
    kai = scene["kai"]
    admin = make_user("crm_admin")
    trashed = Contact(first_name="Tia", last_name="Key", kind="b2b", account=scene["bank"])
    from crm.services.contacts.saving import apply_contact_rules

    db.session.add(trashed)
    apply_contact_rules(admin, trashed, is_new=True)
    db.session.commit()
    from crm.services.contacts.bulk import move_to_trash

    move_to_trash(admin, select(Contact.id).where(Contact.id == trashed.id))
    db.session.commit()
    manager = make_user("crm_manager")
    client = app.test_client()
    assert login(client, manager.email).status_code == 302
    token = csrf_from(client.get("/admin/").get_data(as_text=True))
    before = snapshot()
    for url, data in (
        ("/admin/contact/delete/", {"id": kai.id}),
        ("/admin/contact/action/", {"action": "delete", "rowid": [str(kai.id)]}),
        ("/admin/contact/action/", {"action": "select", "rowid": [str(kai.id)]}),
        (f"/admin/contact/edit/?id={kai.id}", {"first_name": "X", "last_name": "Y"}),
        ("/admin/trash/action/", {"action": "restore", "rowid": [str(trashed.id)]}),
        (
            f"/admin/contact/bulk/?target=ids&ids={kai.id}",
            {"operation": "add_tags", "tags": "X", "confirm": "y"},
        ),
    ):
        response = client.post(url, data={**data, "csrf_token": token})
        assert response.status_code in (200, 302, 404), url
        assert changed_tables(before, snapshot()) == [], url
    assert client.get("/admin/trash/?search=Tia").get_data(as_text=True).count("Tia Key") == 0
