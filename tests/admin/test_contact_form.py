"""Creating and editing contacts through the real admin form, CSRF on."""

from __future__ import annotations

import re
from datetime import date

import pytest

from crm.extensions import db
from crm.models import AuditEntry, Contact, Phone
from tests.admin.helpers import contact_form, field_errors, post_form


def _contacts() -> list[Contact]:
    db.session.expire_all()
    return db.session.query(Contact).all()


def test_create_b2c_contact_with_inline_phones_addresses_and_link(client, login_as):
    user = login_as("crm_sales")
    response = post_form(client, "/admin/contact/new/", contact_form())
    assert response.status_code == 302, field_errors(response.get_data(as_text=True))
    [ana] = _contacts()
    assert ana.full_name == "Ana Smith"
    assert ana.kind.value == "b2c"
    assert ana.account.is_hidden and ana.account.name == "Ana Smith" and ana.is_primary
    assert ana.owner_id == user.id  # the creator owns it
    assert ana.email == "ana.smith@example.com"
    assert ana.website == "https://anasmith.example"
    phones = {p.phone_type.name: p for p in ana.phones}
    assert phones["Mobile"].e164 == "+447400123456"
    assert phones["Mobile"].formatted == "+44 7400 123456"
    assert phones["Work"].e164 == "+12015550123" and phones["Work"].extension == "42"
    assert phones["Work"].display == "+1 201-555-0123 ext. 42"
    kinds = sorted(a.address_type.name for a in ana.addresses)
    assert kinds == ["Delivery", "Invoice"]
    london = next(a for a in ana.addresses if a.city == "London")
    assert london.geocode_source == "gazetteer:city"
    assert round(london.latitude) == 52 and round(london.longitude) == 0
    [link] = ana.social_links
    assert link.url == "https://www.linkedin.com/in/ana-smith"


def test_created_contact_is_found_by_part_of_the_name_and_shown(client, login_as):
    login_as("crm_sales")
    post_form(client, "/admin/contact/new/", contact_form())
    listing = client.get("/admin/contact/?search=ith").get_data(as_text=True)
    assert "Ana Smith" in listing
    assert "Ana Smith" not in client.get("/admin/contact/?search=zzz").get_data(as_text=True)
    by_email = client.get("/admin/contact/?search=example.com").get_data(as_text=True)
    assert "Ana Smith" in by_email
    [ana] = _contacts()
    details = client.get(f"/admin/contact/details/?id={ana.id}").get_data(as_text=True)
    assert "+44 7400 123456" in details and "ext. 42" in details
    assert "https://www.linkedin.com/in/ana-smith" in details
    assert "221B Baker Street" in details


def test_post_without_csrf_token_is_refused_and_saves_nothing(client, login_as):
    login_as("crm_sales")
    response = post_form(client, "/admin/contact/new/", contact_form(), with_csrf=False)
    assert response.status_code == 400
    assert _contacts() == []


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "ana@", "Not a valid email address"),
        ("first_name", "", "This field is required."),
        ("last_name", "  ", "Last name is required."),
        ("website", "not a url", "Not a valid web address"),
        ("birthday", "2999-01-01", "A birthday cannot be in the future."),
        ("timezone", "Mars/Olympus", "Not a valid choice"),
        ("language", "xx", "Not a valid choice"),
        ("phones-0-number", "12", "Not a phone number: too short or too long."),
        ("phones-0-number", "020 7946 00", "Not a valid phone number for GB (+44)."),
        ("phones-0-number", "call me", "A phone number may only contain digits"),
        ("phones-1-extension", "12a", "The extension must be 1 to 10 digits."),
        ("social_links-0-handle", "https://facebook.com/ana", "This is not a LinkedIn address"),
        ("addresses-0-latitude", "123", "Number must be between -90"),
    ],
)
def test_invalid_input_shows_an_error_on_the_field_and_saves_nothing(
    client, login_as, field, value, message
):
    login_as("crm_sales")
    response = post_form(client, "/admin/contact/new/", contact_form(**{field: value}))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert message in field_errors(html), field_errors(html)
    assert _contacts() == []
    assert db.session.query(AuditEntry).filter(AuditEntry.entity_type != "user").count() == 0
    # What the user typed is still in the form.
    assert "Met at the fair." in html


def test_b2b_contact_needs_an_account(client, login_as):
    login_as("crm_sales")
    response = post_form(client, "/admin/contact/new/", contact_form(kind="b2b"))
    assert "Choose the account this contact works for" in field_errors(
        response.get_data(as_text=True)
    )
    assert _contacts() == []


def test_b2b_contact_is_stored_in_the_chosen_account(client, login_as):
    from crm.models import Account

    login_as("crm_sales")
    acme = Account(name="Acme Ltd")
    db.session.add(acme)
    db.session.commit()
    response = post_form(
        client, "/admin/contact/new/", contact_form(kind="b2b", account=str(acme.id))
    )
    assert response.status_code == 302
    [ana] = _contacts()
    assert ana.account.name == "Acme Ltd" and not ana.account.is_hidden
    details = client.get(f"/admin/account/details/?id={acme.id}").get_data(as_text=True)
    assert "Ana Smith" in details


def test_a_hidden_account_cannot_be_posted_as_a_b2b_account(client, login_as, make_contact):
    other = make_contact(first_name="Bob", last_name="Jones")
    login_as("crm_sales")
    response = post_form(
        client, "/admin/contact/new/", contact_form(kind="b2b", account=str(other.account_id))
    )
    # Someone else's personal account: refused by the contact rules (the picker takes a
    # hidden account only for its own consumer switching to B2B).
    errors = field_errors(response.get_data(as_text=True))
    assert "Choose the account this contact works for" in errors
    assert len(_contacts()) == 1


def _edit_data(client, contact_id: int) -> dict[str, str]:
    """The edit form's current values, as the browser would post them back unchanged."""
    html = client.get(f"/admin/contact/edit/?id={contact_id}").get_data(as_text=True)
    data: dict[str, str] = {}
    for tag in re.findall(r"<input[^>]*>", html):
        name = re.search(r'name="([^"]+)"', tag)
        if not name or 'type="submit"' in tag:
            continue
        value = re.search(r'value="([^"]*)"', tag)
        if 'type="checkbox"' in tag or 'type="radio"' in tag:
            if "checked" in tag:
                data[name.group(1)] = value.group(1) if value else "y"
            continue
        data[name.group(1)] = value.group(1) if value else ""
    for select in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        chosen = re.search(r'<option[^>]*selected[^>]*value="([^"]*)"', select[1]) or re.search(
            r'<option[^>]*value="([^"]*)"[^>]*selected', select[1]
        )
        data[select[0]] = chosen.group(1) if chosen else ""
    for name, text in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', html, re.S):
        data[name] = text.strip()
    return data


def test_editing_an_inline_phone_is_saved_and_written_to_history(client, login_as):
    login_as("crm_sales")
    post_form(client, "/admin/contact/new/", contact_form())
    [ana] = _contacts()
    data = _edit_data(client, ana.id)
    mobile_index = next(k.split("-")[1] for k, v in data.items() if v == "7400 123456")
    data[f"phones-{mobile_index}-number"] = "7400 654321"
    data["job_title"] = "Buyer"
    response = client.post(f"/admin/contact/edit/?id={ana.id}", data=data)
    assert response.status_code == 302, field_errors(response.get_data(as_text=True))
    [ana] = _contacts()
    assert ana.job_title == "Buyer"
    assert "+447400654321" in {p.e164 for p in ana.phones}
    assert ana.version == 2
    update = (
        db.session.query(AuditEntry)
        .filter_by(action="update", entity_type="phone", contact_id=ana.id)
        .one()
    )
    assert update.changes["number"] == ["7400 123456", "7400 654321"]
    assert update.user_email.startswith("user")


def test_deleting_an_inline_row_with_its_checkbox(client, login_as):
    login_as("crm_sales")
    post_form(client, "/admin/contact/new/", contact_form())
    [ana] = _contacts()
    data = _edit_data(client, ana.id)
    work_index = next(k.split("-")[1] for k, v in data.items() if v == "201-555-0123")
    data[f"del-phones-{work_index}"] = "on"
    response = client.post(f"/admin/contact/edit/?id={ana.id}", data=data)
    assert response.status_code == 302
    assert [p.e164 for p in db.session.query(Phone).all()] == ["+447400123456"]
    assert db.session.query(AuditEntry).filter_by(action="delete", entity_type="phone").count()


def test_a_stale_edit_is_refused_with_a_message(client, login_as):
    login_as("crm_sales")
    post_form(client, "/admin/contact/new/", contact_form())
    [ana] = _contacts()
    mine = _edit_data(client, ana.id)
    theirs = dict(mine, job_title="Set by a colleague")
    assert client.post(f"/admin/contact/edit/?id={ana.id}", data=theirs).status_code == 302
    mine["job_title"] = "My change"
    response = client.post(f"/admin/contact/edit/?id={ana.id}", data=mine)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Someone else saved this contact after you opened it" in html
    [ana] = _contacts()
    assert ana.job_title == "Set by a colleague"


def test_sales_may_not_give_a_contact_away_but_a_manager_may(client, login_as, make_user):
    colleague = make_user("crm_sales")
    login_as("crm_sales")
    response = post_form(client, "/admin/contact/new/", contact_form(owner=str(colleague.id)))
    assert "You do not have permission to transfer contacts" in field_errors(
        response.get_data(as_text=True)
    )
    assert _contacts() == []
    client.get("/logout")
    client.cookie_jar.clear() if hasattr(client, "cookie_jar") else None


def test_manager_may_transfer_ownership(client, login_as, make_user):
    colleague = make_user("crm_sales")
    login_as("crm_manager")
    response = post_form(client, "/admin/contact/new/", contact_form(owner=str(colleague.id)))
    assert response.status_code == 302
    [ana] = _contacts()
    assert ana.owner_id == colleague.id


def test_list_shows_active_contacts_unless_asked(client, login_as, make_contact):
    make_contact(first_name="Active", last_name="Person")
    make_contact(first_name="Dormant", last_name="Person", active=False)
    login_as("crm_sales")
    default = client.get("/admin/contact/").get_data(as_text=True)
    assert "Active Person" in default and "Dormant Person" not in default
    inactive = client.get("/admin/contact/?show=inactive").get_data(as_text=True)
    assert "Dormant Person" in inactive and "Active Person" not in inactive
    everyone = client.get("/admin/contact/?show=all").get_data(as_text=True)
    assert "Dormant Person" in everyone and "Active Person" in everyone


def test_paging_sorting_and_page_size(client, login_as, make_contact):
    for index in range(25):
        make_contact(first_name=f"P{index:02d}", last_name=f"Zed{index:02d}")
    login_as("crm_sales")
    first = client.get("/admin/contact/").get_data(as_text=True)
    assert "P00 Zed00" in first and "P20 Zed20" not in first
    second = client.get("/admin/contact/?page=1").get_data(as_text=True)
    assert "P20 Zed20" in second
    big = client.get("/admin/contact/?page_size=50").get_data(as_text=True)
    assert "P24 Zed24" in big
    desc = client.get("/admin/contact/?sort=0&desc=1").get_data(as_text=True)
    assert desc.index("P24 Zed24") < desc.index("P23 Zed23")
    for page in ("-5", "999999999999", "abc"):
        assert client.get(f"/admin/contact/?page={page}").status_code == 200


def test_a_deep_page_shows_the_same_rows_in_the_same_order(
    client, login_as, make_contact, monkeypatch
):
    """Deep pages find their ids first, then read the rows: same page either way."""
    from crm.admin.contacts import listing as contact_listing

    for index in range(25):
        make_contact(first_name=f"P{index:02d}", last_name=f"Zed{24 - index:02d}")
    login_as("crm_sales")

    def rows(url: str) -> list[str]:
        body = client.get(url).get_data(as_text=True)
        return re.findall(r">(P\d\d Zed\d\d)<", body)

    urls = ("/admin/contact/?page=1", "/admin/contact/?page=1&sort=0&desc=1")
    shallow = [rows(url) for url in urls]
    monkeypatch.setattr(contact_listing, "DEEP_OFFSET", 20)
    deep = [rows(url) for url in urls]
    assert deep == shallow
    assert shallow[0] == [f"P{i:02d} Zed{24 - i:02d}" for i in (4, 3, 2, 1, 0)]
    assert shallow[1] == [f"P{i:02d} Zed{24 - i:02d}" for i in (20, 21, 22, 23, 24)]


def test_unknown_contact_id_is_a_404(client, login_as):
    login_as("crm_sales")
    for url in (
        "/admin/contact/details/?id=999",
        "/admin/contact/edit/?id=999",
        "/admin/contact/details/?id=abc",
    ):
        assert client.get(url).status_code == 404


def test_delete_moves_to_the_trash_where_it_is_restored_or_purged(
    client, app, login_as, make_contact, make_user
):
    from crm.models import Account
    from tests.conftest import login

    ana = make_contact()
    ana_id, hidden_account = ana.id, ana.account_id
    login_as("crm_manager")
    listing = client.get("/admin/contact/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', listing).group(1)
    assert client.post("/admin/contact/delete/", data={"id": ana_id}).status_code == 400
    response = client.post("/admin/contact/delete/", data={"id": ana_id, "csrf_token": token})
    assert response.status_code == 302
    assert "Ana Smith" not in client.get("/admin/contact/?show=all").get_data(as_text=True)
    assert client.get(f"/admin/contact/details/?id={ana_id}").status_code == 404
    trash = client.get("/admin/trash/").get_data(as_text=True)
    assert "Ana Smith" in trash
    assert "Delete for good" not in trash  # purging is for administrators
    restored = client.post(
        "/admin/trash/action/",
        data={"action": "restore", "rowid": [str(ana_id)], "csrf_token": token},
        follow_redirects=True,
    )
    assert "1 contact(s) restored." in restored.get_data(as_text=True)
    assert "Ana Smith" in client.get("/admin/contact/").get_data(as_text=True)
    client.post("/admin/contact/delete/", data={"id": ana_id, "csrf_token": token})

    admin = make_user("crm_admin")
    other = app.test_client()
    login(other, admin.email)
    page = other.get("/admin/trash/").get_data(as_text=True)
    admin_token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    other.post(
        "/admin/trash/action/",
        data={"action": "purge", "rowid": [str(ana_id)], "csrf_token": admin_token},
    )
    assert db.session.get(Contact, ana_id) is None
    assert db.session.get(Account, hidden_account) is None
    assert db.session.query(AuditEntry).filter_by(action="delete", entity_type="contact").count()


def test_owner_field_is_locked_for_sales_and_a_missing_owner_keeps_the_owner(
    client, login_as, make_contact
):
    ana = make_contact()
    owner_id = ana.owner_id
    login_as("crm_sales")
    html = client.get(f"/admin/contact/edit/?id={ana.id}").get_data(as_text=True)
    owner_select = re.search(r"<select[^>]*name=\"owner\"[^>]*>", html).group(0)
    assert "disabled" in owner_select
    data = _edit_data(client, ana.id)
    data.pop("owner")  # a disabled field is not posted by the browser
    data["department"] = "Sales"
    assert client.post(f"/admin/contact/edit/?id={ana.id}", data=data).status_code == 302
    [ana] = _contacts()
    assert ana.owner_id == owner_id and ana.department == "Sales"


def test_a_deactivated_type_stays_on_old_rows_but_cannot_be_chosen(client, login_as):
    from crm.models import PhoneType

    login_as("crm_sales")
    post_form(client, "/admin/contact/new/", contact_form())
    work = db.session.query(PhoneType).filter_by(name="Work").one()
    work.active = False
    db.session.commit()
    [ana] = _contacts()
    data = _edit_data(client, ana.id)
    data["department"] = "Purchasing"
    response = client.post(f"/admin/contact/edit/?id={ana.id}", data=data)
    assert response.status_code == 302  # the existing Work phone keeps its type
    edit_page = client.get(f"/admin/contact/edit/?id={ana.id}").get_data(as_text=True)
    assert "Work (inactive)" in edit_page  # the row that has it shows it
    # A new row is never offered it, and a post that names it anyway is refused.
    new_form = client.get("/admin/contact/new/").get_data(as_text=True)
    assert "Work" not in re.findall(r"<option[^>]*>([^<]*)</option>", new_form)
    form = contact_form(first_name="Bo", email="bo@example.com")
    response = post_form(client, "/admin/contact/new/", form)
    assert "Not a valid choice" in field_errors(response.get_data(as_text=True))
    assert len(_contacts()) == 1


def test_details_link_keeps_the_search_to_return_to(client, login_as, make_contact):
    make_contact(first_name="Ana", last_name="Smith")
    login_as("crm_sales")
    listing = client.get("/admin/contact/?search=ith").get_data(as_text=True)
    link = re.search(r'href="(/admin/contact/details/[^"]+)"', listing).group(1)
    assert "url=" in link and "search%3Dith" in link.replace("&amp;", "&")
    new_form = client.get("/admin/contact/new/").get_data(as_text=True)
    assert "__None</option>" not in new_form


def test_tags_categories_criteria_and_responsible_on_the_form(client, login_as, make_user):
    from crm.models import Category, Criterion

    responsible = make_user("crm_sales")
    customer = db.session.query(Category).filter_by(name="Customer").one()
    reader = db.session.query(Criterion).filter_by(name="Newsletter reader").one()
    key_account = db.session.query(Criterion).filter_by(name="Key account").one()
    login_as("crm_manager")
    form_page = client.get("/admin/contact/new/").get_data(as_text=True)
    assert "Newsletter reader" in form_page
    assert "Key account" not in form_page  # a criterion for companies only
    data = contact_form(
        tags="VIP, Loyal ,vip",
        categories=[str(customer.id)],
        criteria=[str(reader.id)],
        responsible=str(responsible.id),
    )
    response = post_form(client, "/admin/contact/new/", data)
    assert response.status_code == 302, field_errors(response.get_data(as_text=True))
    [ana] = _contacts()
    assert sorted(t.name for t in ana.tags) == ["Loyal", "VIP"]
    assert [c.name for c in ana.categories] == ["Customer"]
    assert [c.name for c in ana.criteria] == ["Newsletter reader"]
    assert ana.responsible_id == responsible.id
    details = client.get(f"/admin/contact/details/?id={ana.id}").get_data(as_text=True)
    assert "VIP" in details and "Customer" in details and "Newsletter reader" in details
    by_tag = client.get("/admin/contact/?flt0_tag_is=loyal").get_data(as_text=True)
    assert "Ana Smith" in by_tag
    wrong = post_form(
        client,
        f"/admin/contact/edit/?id={ana.id}",
        dict(_edit_data(client, ana.id), criteria=[str(key_account.id)]),
    )
    assert "Not a valid choice" in field_errors(wrong.get_data(as_text=True))


def test_sales_may_not_assign_a_responsible_user(client, login_as, make_user):
    other = make_user("crm_sales")
    login_as("crm_sales")
    page = client.get("/admin/contact/new/").get_data(as_text=True)
    assert re.search(
        r'<select[^>]*disabled[^>]*name="responsible"|<select[^>]*name="responsible"[^>]*disabled',
        page,
    )
    response = post_form(client, "/admin/contact/new/", contact_form(responsible=str(other.id)))
    assert "You do not have permission to assign responsible users." in field_errors(
        response.get_data(as_text=True)
    )
    assert _contacts() == []


def test_a_birthday_posted_in_the_year_1604_is_a_day_and_month(client, login_as):
    """Tools may post the stored form of a birthday without a year (see BirthdayField);
    the form itself never mentions 1604 (tests/admin/test_birthday_field.py)."""
    login_as("crm_sales")
    form = client.get("/admin/contact/new/").get_data(as_text=True)
    assert "1604" not in form
    post_form(client, "/admin/contact/new/", contact_form(birthday="1604-05-17"))
    [ana] = _contacts()
    assert (ana.birthday, ana.birthday_month) == (date(1604, 5, 17), 5)
    details = client.get(f"/admin/contact/details/?id={ana.id}").get_data(as_text=True)
    assert "17 May" in details and "1604" not in details
    refused = post_form(client, "/admin/contact/new/", contact_form(birthday="1605-05-17"))
    assert "A birthday before 1900 is not plausible" in refused.get_data(as_text=True)
