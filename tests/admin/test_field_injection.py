"""Fields that are not on a form, posted anyway, change nothing; fields a role may not set
are refused with a message and nothing is saved."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import select

from crm.extensions import db
from crm.models import AccessClass, Account, Contact, User
from tests.admin.helpers import contact_form, field_errors
from tests.conftest import csrf_from

# Columns no contact form has: posted by a hostile client, they must be ignored.
NOT_ON_THE_FORM = {
    "id": "999",
    "version": "99",
    "deleted_at": "2020-01-01 00:00:00",
    "deleted_by_id": "1",
    "search_text": "forged",
    "has_phone": "y",
    "created_at": "2000-01-01 00:00:00",
    "updated_at": "2000-01-01 00:00:00",
    "birthday_month": "13",
    "account_id": "1",
    "owner_id": "1",
    "access_class_id": "1",
}


def _stored(contact_id: int) -> dict:
    db.session.expire_all()
    c = db.session.get(Contact, contact_id)
    return {
        "id": c.id,
        "version": c.version,
        "deleted_at": c.deleted_at,
        "search_text": c.search_text,
        "created_at": c.created_at,
        "owner_id": c.owner_id,
        "access_class_id": c.access_class_id,
        "account_id": c.account_id,
    }


def test_columns_that_are_not_on_the_contact_form_are_ignored(client, login_as, make_contact):
    ana = make_contact(first_name="Ana", last_name="Smith")
    before = _stored(ana.id)
    login_as("crm_manager")
    url = f"/admin/contact/edit/?id={ana.id}"
    token = csrf_from(client.get(url).get_data(as_text=True))
    data = contact_form(first_name="Anna", expected_version=str(before["version"]))
    data["owner"] = str(before["owner_id"])  # kept as it is: only the extra fields differ
    response = client.post(url, data={**data, **NOT_ON_THE_FORM, "csrf_token": token})
    assert response.status_code == 302
    after = _stored(ana.id)
    assert after["version"] == before["version"] + 1  # saved once, by the rules
    for field in ("id", "deleted_at", "created_at", "owner_id", "access_class_id"):
        assert after[field] == before[field], field
    assert "forged" not in after["search_text"] and "anna" in after["search_text"]
    assert db.session.get(Contact, ana.id).birthday_month == 4  # from the birthday posted


def test_a_sales_user_cannot_give_away_or_reclass_a_contact_by_posting(
    client, login_as, make_contact, make_user
):
    ana = make_contact(first_name="Ana", last_name="Smith")
    retail = AccessClass(name="Retail")
    db.session.add(retail)
    db.session.commit()
    other = make_user("crm_sales")
    sales = login_as("crm_sales")
    ana.owner_id = sales.id
    db.session.commit()
    before = _stored(ana.id)
    url = f"/admin/contact/edit/?id={ana.id}"
    page = client.get(url).get_data(as_text=True)
    assert re.search(r'<select[^>]*disabled[^>]*name="access_class"', page)  # locked for sales
    for field, value, message in (
        ("owner", str(other.id), "You do not have permission to transfer"),
        ("access_class", str(retail.id), "Not a valid choice"),  # not a class sales sees
        ("responsible", str(other.id), "You do not have permission to assign responsible users"),
    ):
        data = contact_form(first_name="Anna", expected_version=str(before["version"]))
        data["owner"] = str(sales.id)
        response = client.post(url, data={**data, field: value, "csrf_token": csrf_from(page)})
        assert response.status_code == 200, field
        assert message in field_errors(response.get_data(as_text=True)), field
        assert _stored(ana.id) == before, field  # nothing saved


def test_account_and_user_forms_ignore_what_they_do_not_show(client, login_as, make_user):
    acme = Account(name="Acme")
    db.session.add(acme)
    db.session.commit()
    version = acme.version
    login_as("crm_admin")
    url = f"/admin/account/edit/?id={acme.id}"
    token = csrf_from(client.get(url).get_data(as_text=True))
    client.post(
        url,
        data={
            "name": "Acme Ltd",
            "website": "",
            "notes": "",
            "is_hidden": "y",
            "version": "50",
            "csrf_token": token,
        },
    )
    db.session.expire_all()
    acme = db.session.get(Account, acme.id)
    assert (acme.name, acme.is_hidden, acme.version) == ("Acme Ltd", False, version + 1)

    bo = make_user("crm_sales")
    hash_before = bo.password_hash
    url = f"/admin/users/edit/?id={bo.id}"
    token = csrf_from(client.get(url).get_data(as_text=True))
    client.post(
        url,
        data={
            "email": bo.email,
            "full_name": "Bo",
            "active": "y",
            "password_hash": "pbkdf2:sha256:1$forged$00",
            "last_login_at": "2020-01-01 00:00:00",
            "created_at": "2000-01-01 00:00:00",
            "csrf_token": token,
        },
    )
    db.session.expire_all()
    bo = db.session.scalar(select(User).where(User.id == bo.id))
    assert bo.full_name == "Bo" and bo.password_hash == hash_before
    assert bo.last_login_at is None
    assert bo.created_at.replace(tzinfo=UTC) > datetime(2020, 1, 2, tzinfo=UTC)


def test_unknown_ids_in_pickers_are_errors_not_silent_blanks(client, login_as, make_contact):
    """A posted user or class id that does not exist must not clear the field."""
    retail = AccessClass(name="Retail")
    db.session.add(retail)
    db.session.commit()
    manager = login_as("crm_manager")
    ana = make_contact(manager, first_name="Ana", access_class=retail, owner=manager)
    before = _stored(ana.id)
    url = f"/admin/contact/edit/?id={ana.id}"
    page = client.get(url).get_data(as_text=True)
    for field in ("owner", "responsible", "access_class"):
        data = contact_form(expected_version=str(before["version"]))
        data.update(owner=str(manager.id), access_class=str(retail.id))
        data[field] = "987654"
        response = client.post(url, data={**data, "csrf_token": csrf_from(page)})
        assert response.status_code == 200, field
        assert "Not a valid choice" in field_errors(response.get_data(as_text=True)), field
        assert _stored(ana.id) == before, field
