"""Users and roles in the admin (crm_admin only)."""

from __future__ import annotations

import re

from crm.extensions import db
from crm.models import Role, User
from tests.admin.helpers import field_errors, post_form
from tests.conftest import login


def _role_id(name: str) -> int:
    return db.session.query(Role).filter_by(name=name).one().id


def test_admin_creates_a_user_who_can_then_sign_in(client, app, login_as):
    login_as("crm_admin")
    response = post_form(
        client,
        "/admin/users/new/",
        {
            "email": "New.Person@Example.com",
            "full_name": "New Person",
            "roles": [str(_role_id("crm_sales")), str(_role_id("crm_marketeer"))],
            "active": "y",
            "new_password": "a-good-long-password",
        },
    )
    assert response.status_code == 302, field_errors(response.get_data(as_text=True))
    user = db.session.query(User).filter_by(email="new.person@example.com").one()
    assert user.role_names == {"crm_sales", "crm_marketeer"}
    assert "a-good-long-password" not in user.password_hash
    other = app.test_client()
    assert login(other, "new.person@example.com", "a-good-long-password").status_code == 302
    assert other.get("/admin/contact/").status_code == 200


def test_new_user_needs_a_valid_email_and_a_long_password(client, login_as):
    login_as("crm_admin")
    before = db.session.query(User).count()
    response = post_form(
        client,
        "/admin/users/new/",
        {"email": "not-an-email", "full_name": "X", "active": "y", "new_password": "short"},
    )
    errors = field_errors(response.get_data(as_text=True))
    assert "Not a valid email address" in errors
    assert "at least 10 characters" in errors
    assert db.session.query(User).count() == before


def test_admin_cannot_lock_themselves_out(client, login_as):
    admin = login_as("crm_admin")
    response = post_form(
        client,
        f"/admin/users/edit/?id={admin.id}",
        {"email": admin.email, "full_name": "Me", "roles": [str(_role_id("crm_sales"))]},
    )
    errors = field_errors(response.get_data(as_text=True))
    assert "You cannot deactivate your own account." in errors
    assert "You cannot remove your own Administrator (crm_admin) role." in errors
    db.session.expire_all()
    assert db.session.get(User, admin.id).active
    assert "crm_admin" in db.session.get(User, admin.id).role_names


def test_deactivated_user_can_no_longer_sign_in(client, app, login_as, make_user):
    victim = make_user("crm_sales")
    login_as("crm_admin")
    response = post_form(
        client,
        f"/admin/users/edit/?id={victim.id}",
        {"email": victim.email, "full_name": "Gone", "roles": [str(_role_id("crm_sales"))]},
    )
    assert response.status_code == 302
    other = app.test_client()
    assert login(other, victim.email).status_code == 401


def test_roles_are_shown_by_name_with_their_code(client, login_as, make_user):
    make_user("crm_marketeer", "crm_sales", email="mia@example.com")
    login_as("crm_admin")
    listed = client.get("/admin/users/?search=mia").get_data(as_text=True)
    assert "Sales (crm_sales), Marketing (crm_marketeer)" in listed
    form = client.get("/admin/users/new/").get_data(as_text=True)
    options = re.findall(r'<option value="\d+">([^<]+)</option>', form)
    assert options == [
        "Administrator (crm_admin)",
        "Manager (crm_manager)",
        "Sales (crm_sales)",
        "Marketing (crm_marketeer)",
        "List manager (crm_list_manager)",
    ]
    roles = client.get("/admin/roles/").get_data(as_text=True)
    assert "List manager (crm_list_manager)" in roles


def test_keeping_the_current_password_is_offered_only_when_editing(client, login_as, make_user):
    other = make_user("crm_sales")
    login_as("crm_admin")
    new = client.get("/admin/users/new/").get_data(as_text=True)
    assert re.search(r'<label for="new_password"[^>]*>Password\b', new)
    assert "not easy to guess" in new and "Leave empty" not in new
    edit = client.get(f"/admin/users/edit/?id={other.id}").get_data(as_text=True)
    assert re.search(r'<label for="new_password"[^>]*>New password\b', edit)
    assert "Leave empty to keep the current password." in edit
