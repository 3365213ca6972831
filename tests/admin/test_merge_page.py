"""The merge page: side by side, choices, merge, stale refusal, errors; the merges list, a
merge's page and undo; the Merge bulk action on contacts and accounts."""

from __future__ import annotations

import re
from html import unescape

from sqlalchemy import select

from crm.extensions import db
from crm.models import Account, Contact, MergeRecord
from tests.conftest import csrf_from


def merge_url(*ids: int, master: int | None = None) -> str:
    query = "&".join(f"ids={i}" for i in ids)
    return f"/admin/merge/contacts/?{query}" + (f"&master={master}" if master else "")


def page_form(html: str) -> dict[str, str]:
    """What the browser would post: hidden inputs and the checked radios."""
    data: dict[str, str] = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html):
        if name == "ids":
            continue
        data[name] = unescape(value)
    for name, value in re.findall(
        r'<input type="radio" name="([^"]+)" value="([^"]*)"[^>]*checked', html
    ):
        data[name] = unescape(value)
    return data


def post_merge(client, url: str, **choices: str):
    page = client.get(url)
    assert page.status_code == 200, page.status_code
    html = page.get_data(as_text=True)
    data = page_form(html)
    data.update(choices)
    ids = re.findall(r'<input type="hidden" name="ids" value="(\d+)"', html)
    return client.post(url.split("?")[0], data={**data, "ids": ids})


def test_a_manager_merges_two_contacts_choosing_values(client, login_as, make_contact):
    manager = login_as("crm_manager")
    a = make_contact(manager, first_name="Ana", last_name="Smith", email="ana@example.com")
    b = make_contact(manager, first_name="Anna", last_name="Smith", job_title="CEO")
    page = client.get(merge_url(a.id, b.id)).get_data(as_text=True)
    assert "Merge 2 contacts" in page and "Master" in page
    # The master's first name is preselected; the only filled job title is kept, no choice.
    form = page_form(page)
    assert form["f_first_name"] == str(a.id) and "f_job_title" not in form
    assert "CEO" in page
    response = post_merge(client, merge_url(a.id, b.id), f_first_name=str(b.id))
    assert response.status_code == 302
    assert f"/admin/contact/details/?id={a.id}" in response.headers["Location"]
    master = db.session.get(Contact, a.id)
    db.session.refresh(master)
    assert (master.first_name, master.job_title, master.email) == ("Anna", "CEO", "ana@example.com")
    assert db.session.get(Contact, b.id).merged_into_id == a.id
    listing = client.get("/admin/merge/").get_data(as_text=True)
    assert "Merged Anna Smith" in listing or "Merged Ana" in listing or "into Anna Smith" in listing


def test_make_another_the_master(client, login_as, make_contact):
    manager = login_as("crm_manager")
    a = make_contact(manager, first_name="Ana", last_name="Smith")
    b = make_contact(manager, first_name="Anna", last_name="Smith")
    page = client.get(merge_url(a.id, b.id, master=b.id)).get_data(as_text=True)
    assert page_form(page)["master"] == str(b.id)
    assert post_merge(client, merge_url(a.id, b.id, master=b.id)).status_code == 302
    assert db.session.get(Contact, a.id).merged_into_id == b.id


def test_a_contact_changed_meanwhile_refuses_the_merge(client, login_as, make_contact):
    manager = login_as("crm_manager")
    a = make_contact(manager, first_name="Ana", last_name="Smith")
    b = make_contact(manager, first_name="Anna", last_name="Smith")
    html = client.get(merge_url(a.id, b.id)).get_data(as_text=True)
    data = page_form(html)
    b.job_title = "Changed by someone else"
    db.session.commit()
    response = client.post("/admin/merge/contacts/", data={**data, "ids": [str(a.id), str(b.id)]})
    assert response.status_code == 302
    followed = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "changed by someone else" in followed and "Nothing was merged" in followed
    assert db.session.get(Contact, b.id).merged_into_id is None


def test_bad_requests_get_clear_messages(client, login_as, make_contact):
    manager = login_as("crm_manager")
    a = make_contact(manager, first_name="Ana", last_name="Smith")
    b = make_contact(manager, first_name="Anna", last_name="Smith")
    one = client.get(merge_url(a.id), follow_redirects=True).get_data(as_text=True)
    assert "Choose two to 10 contacts to merge." in one
    missing = client.get(merge_url(a.id, 99999), follow_redirects=True).get_data(as_text=True)
    assert "#99999 cannot be merged" in missing
    junk = client.get("/admin/merge/contacts/?ids=x&ids=1", follow_redirects=True)
    assert junk.status_code == 200 and "is not a record number" in junk.get_data(as_text=True)
    bad_choice = post_merge(client, merge_url(a.id, b.id), f_first_name="424242")
    assert bad_choice.status_code == 200
    assert "Choose one of the values shown." in bad_choice.get_data(as_text=True)
    no_csrf = client.post("/admin/merge/contacts/", data={"ids": [a.id, b.id], "master": a.id})
    assert "The form expired" in no_csrf.get_data(as_text=True)
    assert db.session.get(Contact, b.id).merged_into_id is None


def test_sales_and_marketeers_may_not_merge(client, login_as, make_contact):
    a = make_contact(first_name="Ana", last_name="Smith")
    b = make_contact(first_name="Anna", last_name="Smith")
    login_as("crm_sales")
    assert client.get(merge_url(a.id, b.id)).status_code == 403
    assert client.get("/admin/merge/").status_code == 403


def test_undo_from_the_merge_page_is_for_administrators(client, login_as, make_contact, make_user):
    manager = make_user("crm_manager")
    a = make_contact(manager, first_name="Ana", last_name="Smith")
    b = make_contact(manager, first_name="Anna", last_name="Smith", job_title="CEO")
    from crm.services.merge.contacts import merge_contacts

    record = merge_contacts(manager, [a.id, b.id])
    db.session.commit()
    login_as("crm_manager")
    page = client.get(f"/admin/merge/{record.id}/").get_data(as_text=True)
    assert "Undo this merge" not in page and "CEO" in page
    token = csrf_from(client.get("/admin/contact/new/").get_data(as_text=True))
    assert (
        client.post(f"/admin/merge/{record.id}/undo/", data={"csrf_token": token}).status_code
        == 403
    )
    client.post(
        "/logout", data={"csrf_token": csrf_from(client.get("/logout").get_data(as_text=True))}
    )
    login_as("crm_admin")
    page = client.get(f"/admin/merge/{record.id}/").get_data(as_text=True)
    assert "Undo this merge" in page
    done = client.post(
        f"/admin/merge/{record.id}/undo/",
        data={"csrf_token": csrf_from(page)},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "undone" in done
    assert db.session.get(Contact, b.id).merged_into_id is None
    assert db.session.get(MergeRecord, record.id).undone_at is not None
    assert client.get("/admin/merge/424242/").status_code == 404


def test_the_merge_bulk_action_on_accounts_opens_the_merge_page(client, login_as, make_contact):
    login_as("crm_manager")
    acme, acme2 = Account(name="Acme"), Account(name="ACME Ltd")
    db.session.add_all([acme, acme2])
    db.session.commit()
    make_contact(first_name="Ana", last_name="Smith", account=acme2, kind="b2b")
    listing = client.get("/admin/account/").get_data(as_text=True)
    response = client.post(
        "/admin/account/action/",
        data={"action": "merge", "rowid": [acme.id, acme2.id], "csrf_token": csrf_from(listing)},
    )
    assert response.status_code == 302
    assert "/admin/merge/accounts/" in response.headers["Location"]
    merged = post_merge(client, f"/admin/merge/accounts/?ids={acme.id}&ids={acme2.id}")
    assert merged.status_code == 302
    ana = db.session.scalar(select(Contact).where(Contact.first_name == "Ana"))
    assert ana.account_id == acme.id
    assert db.session.get(Account, acme2.id).merged_into_id == acme.id
    assert "ACME Ltd" not in client.get("/admin/account/").get_data(as_text=True)
    one = client.post(
        "/admin/account/action/",
        data={"action": "merge", "rowid": [acme.id], "csrf_token": csrf_from(listing)},
        follow_redirects=True,
    )
    assert "Tick two to 10 accounts to merge." in one.get_data(as_text=True)


def test_a_merged_accounts_old_link_leads_to_the_master(client, login_as, make_user):
    from crm.services.merge.accounts import merge_accounts

    manager = make_user("crm_manager")
    acme, acme2 = Account(name="Acme"), Account(name="Acme Ltd")
    db.session.add_all([acme, acme2])
    db.session.commit()
    merge_accounts(manager, [acme.id, acme2.id], master_id=acme.id)
    db.session.commit()
    login_as("crm_sales")
    response = client.get(f"/admin/account/details/?id={acme2.id}")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/admin/account/details/?id={acme.id}")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Acme Ltd (#" in page and "was merged into this account" in page
    assert client.get("/admin/account/details/?id=987654").status_code == 404


def test_the_masters_page_lists_its_merges_for_managers(client, login_as, make_contact):
    manager = login_as("crm_manager")
    a = make_contact(manager, first_name="Ana", last_name="Smith")
    b = make_contact(manager, first_name="Anna", last_name="Smith")
    post_merge(client, merge_url(a.id, b.id))
    page = client.get(f"/admin/contact/details/?id={a.id}").get_data(as_text=True)
    assert "Merged into this contact" in page and f"Anna Smith (#{b.id})" in page


def test_a_birthday_without_a_year_is_offered_as_day_and_month(client, login_as, make_contact):
    manager = login_as("crm_manager")
    a = make_contact(manager, first_name="Ana", last_name="Smith", birthday="--05-17")
    b = make_contact(manager, first_name="Anna", last_name="Smith", birthday="1980-05-17")
    page = client.get(merge_url(a.id, b.id)).get_data(as_text=True)
    assert "17 May" in page and "1980-05-17" in page
    assert "1604" not in page
