"""services.users: creating users, checking passwords, roles."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from werkzeug.security import check_password_hash

from crm.errors import ValidationFailed
from crm.extensions import db
from crm.models import ROLE_NAMES, Role, User
from crm.services.platform.users import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    authenticate,
    create_user,
    ensure_roles,
    generate_password,
    set_password,
)
from tests.services.conftest import count, reload

PASSWORD = "a-long-enough-secret"


def refused(*args, **kwargs) -> dict[str, list[str]]:
    with pytest.raises(ValidationFailed) as caught:
        create_user(*args, **kwargs)
    db.session.rollback()
    return caught.value.errors


def test_create_user_with_roles(app):
    user = create_user(" Ana@Example.COM ", PASSWORD, ["crm_sales", "crm_marketeer"], "Ana S")
    db.session.commit()
    stored = reload(user)
    assert stored.email == "ana@example.com"
    assert stored.full_name == "Ana S"
    assert stored.active is True
    assert stored.role_names == {"crm_sales", "crm_marketeer"}
    assert stored.has_role("crm_sales") and not stored.has_role("crm_admin")
    assert stored.last_login_at is None


def test_user_without_roles_is_allowed(app):
    user = create_user("ana@example.com", PASSWORD, [])
    assert user.role_names == set()


def test_bad_email_is_refused(app, subtests):
    for email, message in [
        ("", "An email is required."),
        ("   ", "An email is required."),
        (None, "An email is required."),
        ("ana", "Not a valid email address: An email address must have an @-sign."),
        ("ana@localhost", "Not a valid email address"),
    ]:
        with subtests.test(email=email):
            errors = refused(email, PASSWORD, ["crm_sales"])
            assert list(errors) == ["email"]
            assert errors["email"][0].startswith(message)
    assert count(User) == 0


def test_duplicate_email_is_refused_whatever_its_case(make_user):
    make_user("crm_sales", email="ana@example.com")
    errors = refused("ANA@example.com", PASSWORD, ["crm_manager"])
    assert errors == {"email": ["A user with the email ana@example.com already exists."]}
    assert count(User) == 1


def test_short_password_is_refused(app, subtests):
    for password in ["", "short", "x" * (MIN_PASSWORD_LENGTH - 1), None]:
        with subtests.test(password=password):
            errors = refused("ana@example.com", password, ["crm_sales"])
            assert errors == {
                "password": [f"The password must have at least {MIN_PASSWORD_LENGTH} characters."]
            }
    assert count(User) == 0


def test_guessable_and_overlong_passwords_are_refused(app, subtests):
    for password, message in (
        ("password123", "This password is too easy to guess. This is a very common password."),
        ("qwertyuiop", "This password is too easy to guess. This is a top-100 common"),
        ("aaaaaaaaaaaaaa", "This password is too easy to guess. Repeats like"),
        ("ana.smith.2024", "This password is too easy to guess."),  # her email, a year
        ("x" * (MAX_PASSWORD_LENGTH + 1), "The password must have at most 128 characters."),
    ):
        with subtests.test(password=password[:20]):
            errors = refused("ana.smith@example.com", password, ["crm_sales"])
            assert errors["password"][0].startswith(message), errors
    assert count(User) == 0
    user = create_user("ana.smith@example.com", "lantern-orbit-maple", ["crm_sales"])
    assert user.id is not None  # a few uncommon words pass


def test_unknown_role_is_refused(app):
    errors = refused("ana@example.com", PASSWORD, ["crm_sales", "crm_god", "root"])
    assert errors == {"roles": ["Unknown role(s): crm_god, root"]}
    assert count(User) == 0


def test_every_problem_is_reported_at_once(app):
    errors = refused("nope", "short", ["root"])
    assert set(errors) == {"email", "password", "roles"}


def test_password_is_stored_hashed_with_scrypt_by_default(app):
    app.config.pop("CRM_PASSWORD_HASH_METHOD", None)  # the production default
    user = create_user("ana@example.com", PASSWORD, ["crm_sales"])
    db.session.commit()
    stored = db.session.scalar(select(User.password_hash).where(User.id == user.id))
    assert PASSWORD not in stored
    assert stored.startswith("scrypt:")
    assert check_password_hash(stored, PASSWORD)
    assert not check_password_hash(stored, PASSWORD + "x")


def test_same_password_gets_a_different_salt(app):
    first = create_user("a@example.com", PASSWORD, [])
    second = create_user("b@example.com", PASSWORD, [])
    assert first.password_hash != second.password_hash


def test_set_password_checks_strength_and_replaces_the_hash(make_user):
    user = make_user("crm_sales")
    old_hash = user.password_hash
    with pytest.raises(ValueError, match="at least 10 characters"):
        set_password(user, "short")
    assert user.password_hash == old_hash
    set_password(user, "another-long-password")
    db.session.commit()
    assert authenticate(user.email, "another-long-password") is not None
    assert authenticate(user.email, "correct-horse-battery") is None


def test_authenticate_succeeds_and_records_the_login(make_user):
    user = make_user("crm_sales", email="ana@example.com")
    signed_in = authenticate("  ANA@example.com ", "correct-horse-battery")
    assert signed_in is not None and signed_in.id == user.id
    db.session.commit()
    assert reload(user).last_login_at is not None


def test_authenticate_refuses_wrong_credentials(make_user, subtests):
    user = make_user("crm_sales", email="ana@example.com")
    for email, password in [
        ("ana@example.com", "wrong-password!"),
        ("ana@example.com", "Correct-horse-battery"),
        ("ana@example.com", ""),
        ("ana@example.com", None),
        ("bob@example.com", "correct-horse-battery"),
        ("", "correct-horse-battery"),
        (None, None),
    ]:
        with subtests.test(email=email, password=password):
            assert authenticate(email, password) is None
    db.session.commit()
    assert reload(user).last_login_at is None


def test_authenticate_refuses_an_inactive_user(make_user):
    user = make_user("crm_admin", email="ana@example.com", active=False)
    assert authenticate("ana@example.com", "correct-horse-battery") is None
    db.session.commit()
    assert reload(user).last_login_at is None


def test_authenticate_refuses_a_user_without_a_password(app):
    db.session.add(User(email="ana@example.com", password_hash="", active=True))
    db.session.commit()
    assert authenticate("ana@example.com", "") is None
    assert authenticate("ana@example.com", "anything-at-all") is None


def test_ensure_roles_creates_missing_roles_once(app):
    db.session.execute(Role.__table__.delete().where(Role.name == "crm_marketeer"))
    assert count(Role) == len(ROLE_NAMES) - 1
    roles = ensure_roles()
    db.session.commit()
    assert set(roles) == set(ROLE_NAMES)
    ensure_roles()
    db.session.commit()
    assert count(Role) == len(ROLE_NAMES)
    assert roles["crm_marketeer"].description == ROLE_NAMES["crm_marketeer"]


def test_generated_passwords_are_long_enough_and_differ():
    passwords = {generate_password() for _ in range(20)}
    assert len(passwords) == 20
    assert all(len(p) >= MIN_PASSWORD_LENGTH for p in passwords)


def test_full_name_is_trimmed_and_limited(app):
    assert create_user("ana@example.com", PASSWORD, [], full_name="  Ana Smith ").full_name == (
        "Ana Smith"
    )
    errors = refused("bo@example.com", PASSWORD, [], full_name="x" * 201)
    assert errors == {"full_name": ["Too long (at most 200 characters)."]}


def test_save_user_is_for_administrators_and_stops_self_lockout(app, make_user):
    from crm.errors import DomainError, PermissionDenied
    from crm.services.platform.users import delete_user, save_user

    admin = make_user("crm_admin")
    sales = make_user("crm_sales")
    sales_id = sales.id
    with pytest.raises(PermissionDenied):
        save_user(sales, sales, is_new=False, new_password=None)
    db.session.rollback()
    sales.full_name = "  Renamed  "
    save_user(admin, sales, is_new=False, new_password="another-long-password")
    assert sales.full_name == "Renamed"
    assert check_password_hash(sales.password_hash, "another-long-password")
    admin.roles = [r for r in admin.roles if r.name != "crm_admin"]
    admin.active = False
    with pytest.raises(ValidationFailed) as failed:
        save_user(admin, admin, is_new=False, new_password=None)
    assert failed.value.errors == {
        "active": ["You cannot deactivate your own account."],
        "roles": ["You cannot remove your own Administrator (crm_admin) role."],
    }
    db.session.rollback()
    with pytest.raises(DomainError, match="You cannot delete your own account."):
        delete_user(admin, admin)
    with pytest.raises(PermissionDenied):
        delete_user(sales, admin)
    delete_user(admin, sales)
    db.session.commit()
    assert db.session.get(User, sales_id) is None
