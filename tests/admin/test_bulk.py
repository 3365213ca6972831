"""Selection across pages and bulk actions through the admin, CSRF on."""

from __future__ import annotations

import re

from sqlalchemy import select, text

from crm.extensions import db
from crm.models import Contact, Tag, contact_tags
from tests.conftest import csrf_from


def _tagged(name: str) -> list[str]:
    rows = db.session.execute(
        select(Contact.last_name)
        .join(contact_tags, contact_tags.c.contact_id == Contact.id)
        .join(Tag, Tag.id == contact_tags.c.tag_id)
        .where(Tag.key == name.lower())
        .order_by(Contact.last_name)
    )
    return [r[0] for r in rows]


def _page_ids(html: str) -> list[str]:
    return re.findall(r'name="rowid"[^>]*value="(\d+)"', html)


def _action(client, token: str, action: str, ids: list[str]):
    return client.post(
        "/admin/contact/action/",
        data={"action": action, "rowid": ids, "csrf_token": token},
        follow_redirects=True,
    )


def test_select_on_several_pages_then_tag_the_selection(client, login_as, make_contact):
    for index in range(45):
        make_contact(first_name="P", last_name=f"Person{index:02d}")
    login_as("crm_sales")
    first = client.get("/admin/contact/").get_data(as_text=True)
    token = csrf_from(first)
    chosen = _page_ids(first)[:2]
    third = client.get("/admin/contact/?page=2").get_data(as_text=True)
    chosen += _page_ids(third)[:1]
    _action(client, token, "select", chosen[:2])
    page = _action(client, token, "select", chosen[2:]).get_data(as_text=True)
    assert "1 contact(s) added to your selection (3 selected)" in page
    selected = client.get("/admin/contact/?show=selected").get_data(as_text=True)
    assert sorted(_page_ids(selected)) == sorted(chosen)
    assert re.search(r'id="selection-count">\s*3', selected)

    form = client.get("/admin/contact/bulk/?target=selection").get_data(as_text=True)
    assert re.search(r'id="bulk-total">3<', form)
    assert 'value="set_responsible"' not in form  # sales may not assign responsible users
    no_confirm = client.post(
        "/admin/contact/bulk/?target=selection",
        data={"operation": "add_tags", "tags": "Loyal", "csrf_token": csrf_from(form)},
    )
    assert "Tick the box to confirm." in no_confirm.get_data(as_text=True)
    assert _tagged("Loyal") == []
    done = client.post(
        "/admin/contact/bulk/?target=selection",
        data={
            "operation": "add_tags",
            "tags": "Loyal",
            "confirm": "y",
            "csrf_token": csrf_from(form),
        },
        follow_redirects=True,
    )
    assert "Add tag Loyal: 3 contact(s) changed." in done.get_data(as_text=True)
    expected = sorted(db.session.get(Contact, int(i)).last_name for i in chosen)
    assert _tagged("Loyal") == expected


def test_bulk_on_everything_matching_a_filter(client, login_as, make_contact, make_user):
    vip = [make_contact(first_name="V", last_name=f"Vip{i}") for i in range(3)]
    make_contact(first_name="N", last_name="Normal")
    from crm.services.contacts.bulk import add_tags

    add_tags(
        make_user("crm_manager"),
        select(Contact.id).where(Contact.id.in_([c.id for c in vip])),
        ["VIP"],
    )
    db.session.commit()
    responsible = make_user("crm_sales")
    login_as("crm_manager")
    listing = client.get("/admin/contact/?flt0_tag_is=VIP").get_data(as_text=True)
    assert "3 contacts" in listing
    url = "/admin/contact/bulk/?target=matching&flt0_tag_is=VIP"
    form = client.get(url).get_data(as_text=True)
    assert re.search(r'id="bulk-total">3<', form)
    response = client.post(
        url,
        data={
            "operation": "set_responsible",
            "responsible": str(responsible.id),
            "confirm": "y",
            "csrf_token": csrf_from(form),
        },
    )
    assert response.status_code == 302
    assert "flt0_tag_is=VIP" in response.headers["Location"]
    got = db.session.scalars(
        select(Contact.last_name).where(Contact.responsible_id == responsible.id)
    ).all()
    assert sorted(got) == ["Vip0", "Vip1", "Vip2"]
    export = client.post(url, data={"operation": "export", "csrf_token": csrf_from(form)})
    assert export.status_code == 200 and export.mimetype == "text/csv"
    lines = export.get_data(as_text=True).strip().splitlines()
    assert len(lines) == 4 and lines[0].startswith("\ufeffCRM id,Title,First name")


def test_bulk_post_without_csrf_is_refused(client, login_as, make_contact):
    make_contact()
    login_as("crm_manager")
    response = client.post(
        "/admin/contact/bulk/?target=matching",
        data={"operation": "add_tags", "tags": "X", "confirm": "y"},
    )
    assert response.status_code == 400
    assert _tagged("X") == []
    action = client.post("/admin/contact/action/", data={"action": "select", "rowid": ["1"]})
    assert action.status_code == 400


def test_bulk_trash_from_ticked_rows(client, login_as, make_contact):
    ana, bo = make_contact(last_name="Ana"), make_contact(last_name="Bo")
    login_as("crm_manager")
    token = csrf_from(client.get("/admin/contact/").get_data(as_text=True))
    page = _action(client, token, "delete", [str(ana.id)]).get_data(as_text=True)
    assert "Move to trash: 1 contact(s) changed." in page
    listing = client.get("/admin/contact/?show=all").get_data(as_text=True)
    assert _page_ids(listing) == [str(bo.id)]


def test_lists_over_the_cap_say_so_instead_of_counting(client, login_as, make_contact, monkeypatch):
    import crm.services.platform.counting as counting

    monkeypatch.setattr(counting, "COUNT_CAP", 3)
    for index in range(5):
        make_contact(last_name=f"Many{index}")
    login_as("crm_sales")
    html = client.get("/admin/contact/").get_data(as_text=True)
    if db.engine.dialect.name == "sqlite":
        assert "more than 3 contacts" in html
    else:  # PostgreSQL counts exactly when it takes less than CRM_COUNT_BUDGET_MS...
        assert re.search(r">\s*5 contacts\s*<", html)
        client.application.config["CRM_COUNT_BUDGET_MS"] = 0  # ... else it estimates
        db.session.execute(text("ANALYZE contacts"))
        db.session.commit()
        estimated = client.get("/admin/contact/").get_data(as_text=True)
        assert re.search(r"(about \d+|more than 3) contacts", estimated)
        assert not re.search(r">\s*5 contacts\s*<", estimated)
    assert len(_page_ids(html)) == 5
    small = client.get("/admin/contact/?search=many1").get_data(as_text=True)
    assert re.search(r">\s*1 contact\s*<", small)


def test_history_shows_a_bulk_entry_with_its_contacts(client, login_as, make_contact, make_user):
    from crm.services.contacts.bulk import add_tags

    people = [make_contact(last_name=f"H{i}") for i in range(3)]
    add_tags(
        make_user("crm_manager"),
        select(Contact.id).where(Contact.id.in_([p.id for p in people])),
        ["Fair"],
    )
    db.session.commit()
    login_as("crm_admin")
    page = client.get("/admin/history/?flt0_action_equals=bulk")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Tagged Fair: 3 contacts" in html


def test_several_actions_run_together_in_one_transaction(
    client, login_as, make_contact, make_user, monkeypatch
):
    ana, bo = make_contact(last_name="Ana"), make_contact(last_name="Bo")
    responsible = make_user("crm_sales")
    login_as("crm_manager")
    url = f"/admin/contact/bulk/?target=ids&ids={ana.id},{bo.id}"
    form = client.get(url).get_data(as_text=True)
    token = csrf_from(form)
    both = {
        "operation": ["add_tags", "set_responsible"],
        "tags": "Loyal",
        "responsible": str(responsible.id),
        "confirm": "y",
        "csrf_token": token,
    }

    # If one of them fails, neither is applied.
    from crm.errors import DomainError
    from crm.services.contacts import bulk

    def refuse(*_args, **_kwargs):
        raise DomainError("The responsible user cannot take these contacts.")

    monkeypatch.setattr(bulk, "set_responsible", refuse)
    page = client.post(url, data=both, follow_redirects=True).get_data(as_text=True)
    assert "The responsible user cannot take these contacts." in page
    assert _tagged("Loyal") == []
    monkeypatch.undo()

    response = client.post(url, data=both, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Add tag Loyal: 2 contact(s) changed." in page
    assert "2 contact(s) changed" in page.split("Add tag Loyal", 1)[1]  # the second report
    assert _tagged("Loyal") == ["Ana", "Bo"]
    db.session.expire_all()
    assert {c.responsible_id for c in db.session.scalars(select(Contact))} == {responsible.id}

    for clash, message in (
        (["export", "add_tags"], "Export (CSV, XLSX or vCard) runs on its own"),
        (["add_tags", "remove_tags"], "Add tags and Remove tags cannot run together"),
        ([], "Choose an action."),
    ):
        refused = client.post(url, data={**both, "operation": clash, "tags": "Other"})
        assert refused.status_code == 200 and message in refused.get_data(as_text=True)
    assert _tagged("Other") == []
