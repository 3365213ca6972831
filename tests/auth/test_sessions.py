"""Sessions end when they should: on the server, whatever a browser kept of its cookies.

A signed-in browser holds a session cookie and, with "Keep me signed in", a remember cookie;
each test copies them to a second client (an attacker's, or another machine) to show what a
copy is still worth.
"""

from __future__ import annotations

import re
from datetime import timedelta

from flask_login.utils import encode_cookie
from sqlalchemy import func, select, update

from crm import create_app
from crm.extensions import db
from crm.models import RememberToken, Role, User, UserSession
from crm.models.base import utcnow
from tests.admin.helpers import field_errors, post_form
from tests.conftest import TEST_PASSWORD, _base_config, csrf_from, login

SIGNED_IN_PAGE = "/admin/contact/"
NEW_PASSWORD = "purple-otter-sings-loudly"


def _signed_in(client) -> bool:
    response = client.get(SIGNED_IN_PAGE)
    if response.status_code == 200:
        return True
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    return False


def _remember_login(client, email: str):
    page = client.get("/login")
    token = csrf_from(page.get_data(as_text=True))
    return client.post(
        "/login",
        data={"email": email, "password": TEST_PASSWORD, "remember": "y", "csrf_token": token},
    )


def _cookie(client, name: str) -> str | None:
    found = client.get_cookie(name)
    return found.value if found else None


def _copy_of(app, client, *names: str):
    """A new client holding only copies of these cookies of `client`."""
    other = app.test_client()
    for name in names:
        value = _cookie(client, name)
        assert value, f"{name} was not set"
        other.set_cookie(name, value)
    return other


def _sign_out(client) -> None:
    page = client.get("/logout")
    response = client.post("/logout", data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert response.status_code == 302


def _sessions_of(user: User) -> int:
    return db.session.scalar(
        select(func.count()).select_from(UserSession).where(UserSession.user_id == user.id)
    )


def test_a_copied_session_cookie_is_worthless_after_signing_out(app, client, make_user):
    user = make_user("crm_sales")
    assert login(client, user.email).status_code == 302
    copy = _copy_of(app, client, "session")
    assert _signed_in(copy)  # the copy works while the session lives
    _sign_out(client)
    assert not _signed_in(copy)
    assert not _signed_in(client)
    assert _sessions_of(user) == 0


def test_the_remember_cookie_is_worthless_after_signing_out(app, client, make_user):
    user = make_user("crm_sales")
    assert _remember_login(client, user.email).status_code == 302
    remember = _cookie(client, "crm_remember")
    assert remember and re.fullmatch(r"[\w-]{22}:[\w-]{43}", remember)  # random, no user id
    copy = _copy_of(app, client, "crm_remember")
    _sign_out(client)
    assert _cookie(client, "crm_remember") is None  # the browser was told to forget it
    response = copy.get(SIGNED_IN_PAGE)
    assert response.status_code == 302
    assert _cookie(copy, "crm_remember") is None  # refused, and deleted from the copy
    assert db.session.scalar(select(func.count()).select_from(RememberToken)) == 0


def test_flask_logins_own_remember_cookie_opens_nothing(app, make_user):
    """Before server sessions, the remember cookie was the user id and an HMAC, valid for a
    year: one made with the secret key is refused and deleted."""
    user = make_user("crm_admin")
    browser = app.test_client()
    with app.test_request_context():
        browser.set_cookie("remember_token", encode_cookie(str(user.id)))
    response = browser.get(SIGNED_IN_PAGE)
    assert response.status_code == 302
    assert "remember_token=;" in " ".join(response.headers.getlist("Set-Cookie"))


def test_keep_me_signed_in_starts_a_new_session_and_replaces_the_cookie(app, client, make_user):
    user = make_user("crm_sales")
    _remember_login(client, user.email)
    first = _cookie(client, "crm_remember")
    closed_browser = _copy_of(app, client, "crm_remember")  # the session cookie is gone
    assert _signed_in(closed_browser)
    second = _cookie(closed_browser, "crm_remember")
    assert second and second != first  # rotated on use
    # The page's other requests, sent with the old cookie at the same moment, still work...
    same_moment = _copy_of(app, client, "crm_remember")
    assert _signed_in(same_moment)
    # ...and the new cookie keeps the browser signed in the next time it is opened.
    reopened = _copy_of(app, closed_browser, "crm_remember")
    assert _signed_in(reopened)
    stored = db.session.scalars(select(RememberToken.validator_hash)).all()
    assert all(second.split(":")[1] not in value for value in stored)  # hashed


def test_a_replaced_remember_cookie_used_later_was_copied_and_ends_everything(
    app, client, make_user
):
    user = make_user("crm_sales")
    _remember_login(client, user.email)
    stolen = _copy_of(app, client, "crm_remember")
    owner = _copy_of(app, client, "crm_remember")
    assert _signed_in(owner)  # the owner's browser uses (and replaces) the cookie
    db.session.execute(update(RememberToken).values(replaced_at=utcnow() - timedelta(minutes=5)))
    db.session.commit()
    assert not _signed_in(stolen)
    assert not _signed_in(owner)  # every session of the user ended, to be safe
    assert not _signed_in(client)
    assert _sessions_of(user) == 0


def test_remember_cookies_expire(app, client, make_user):
    app.config["CRM_REMEMBER_DAYS"] = 30
    user = make_user("crm_sales")
    _remember_login(client, user.email)
    token = db.session.scalars(select(RememberToken)).one()
    left = token.expires_at.replace(tzinfo=None) - utcnow().replace(tzinfo=None)
    assert timedelta(days=29, hours=23) < left <= timedelta(days=30)
    db.session.execute(update(RememberToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert not _signed_in(_copy_of(app, client, "crm_remember"))


def test_an_idle_session_ends(app, client, make_user):
    app.config["CRM_SESSION_IDLE_MINUTES"] = 30
    user = make_user("crm_sales")
    login(client, user.email)
    db.session.execute(update(UserSession).values(last_seen_at=utcnow() - timedelta(minutes=29)))
    db.session.commit()
    assert _signed_in(client)  # used within the limit: still signed in, and marked used now
    seen = db.session.scalar(select(UserSession.last_seen_at))
    assert utcnow().replace(tzinfo=None) - seen.replace(tzinfo=None) < timedelta(minutes=1)
    db.session.execute(update(UserSession).values(last_seen_at=utcnow() - timedelta(minutes=31)))
    db.session.commit()
    assert not _signed_in(client)


def _edit_user(client, user: User, **changes) -> None:
    page = client.get(f"/admin/users/edit/?id={user.id}")
    assert page.status_code == 200
    roles = [str(role.id) for role in user.roles]
    form = {
        "email": user.email,
        "full_name": user.full_name,
        "roles": roles,
        "active": "y" if user.active else "",
        "new_password": "",
        **changes,
    }
    form = {key: value for key, value in form.items() if value != ""}
    response = post_form(client, f"/admin/users/edit/?id={user.id}", form)
    assert response.status_code == 302, field_errors(response.get_data(as_text=True))


def _role_id(name: str) -> int:
    return db.session.scalar(select(Role.id).where(Role.name == name))


def test_an_administrators_password_reset_signs_the_user_out_everywhere(
    app, client, make_user, login_as
):
    user = make_user("crm_sales")
    laptop, phone = app.test_client(), app.test_client()
    login(laptop, user.email)
    _remember_login(phone, user.email)
    remembered = _copy_of(app, phone, "crm_remember")
    admin = login_as("crm_admin")
    _edit_user(client, user, new_password=NEW_PASSWORD)
    assert not _signed_in(laptop)
    assert not _signed_in(phone)
    assert not _signed_in(remembered)
    assert _signed_in(client)  # the administrator is still signed in
    assert _sessions_of(admin) == 1
    assert login(laptop, user.email, NEW_PASSWORD).status_code == 302


def test_a_role_change_or_deactivation_signs_the_user_out(app, client, make_user, login_as):
    user = make_user("crm_sales")
    browser = app.test_client()
    login(browser, user.email)
    login_as("crm_admin")
    _edit_user(client, user, roles=[str(_role_id("crm_marketeer"))])
    assert not _signed_in(browser)
    login(browser, user.email)
    _edit_user(client, db.session.get(User, user.id), active="")
    assert not _signed_in(browser)
    # Active again: the sessions of before do not come back.
    _edit_user(client, db.session.get(User, user.id), active="y")
    assert not _signed_in(browser)


def test_an_edit_without_a_new_password_or_role_change_keeps_sessions(
    app, client, make_user, login_as
):
    user = make_user("crm_sales")
    browser = app.test_client()
    login(browser, user.email)
    login_as("crm_admin")
    _edit_user(client, user, full_name="Renamed Person")
    assert _signed_in(browser)


def test_administrators_resetting_their_own_password_stay_signed_in_here_only(
    app, client, login_as
):
    admin = login_as("crm_admin")
    elsewhere = app.test_client()
    login(elsewhere, admin.email)
    _edit_user(client, admin, new_password=NEW_PASSWORD)
    assert _signed_in(client)
    assert not _signed_in(elsewhere)


def _profile_post(client, url: str, data: dict):
    page = client.get("/admin/profile/")
    assert page.status_code == 200
    return client.post(url, data={**data, "csrf_token": csrf_from(page.get_data(as_text=True))})


def test_changing_ones_own_password_ends_the_other_sessions(app, client, login_as):
    user = login_as("crm_sales")
    other = app.test_client()
    _remember_login(other, user.email)
    other_remembered = _copy_of(app, other, "crm_remember")
    wrong = _profile_post(
        client,
        "/admin/profile/",
        {"current_password": "not-it", "new_password": NEW_PASSWORD, "again": NEW_PASSWORD},
    )
    assert wrong.status_code == 422
    assert "This is not your current password." in wrong.get_data(as_text=True)
    assert _signed_in(other)  # nothing changed
    differ = _profile_post(
        client,
        "/admin/profile/",
        {"current_password": TEST_PASSWORD, "new_password": NEW_PASSWORD, "again": "other"},
    )
    assert "The two new passwords differ." in differ.get_data(as_text=True)
    weak = _profile_post(
        client,
        "/admin/profile/",
        {"current_password": TEST_PASSWORD, "new_password": "password1", "again": "password1"},
    )
    assert "at least 10 characters" in weak.get_data(as_text=True)
    done = _profile_post(
        client,
        "/admin/profile/",
        {"current_password": TEST_PASSWORD, "new_password": NEW_PASSWORD, "again": NEW_PASSWORD},
    )
    assert done.status_code == 302
    assert _signed_in(client)
    assert not _signed_in(other)
    assert not _signed_in(other_remembered)
    assert login(app.test_client(), user.email, NEW_PASSWORD).status_code == 302


def test_sign_out_everywhere_ends_every_session_this_one_included(app, client, login_as):
    user = login_as("crm_marketeer")
    other = app.test_client()
    _remember_login(other, user.email)
    remembered = _copy_of(app, other, "crm_remember")
    response = _profile_post(client, "/admin/profile/sign-out-everywhere/", {})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    for browser in (client, other, remembered):
        assert not _signed_in(browser)
    assert _sessions_of(user) == 0


def test_the_profile_lists_sessions_and_ends_another_one(app, client, login_as):
    user = login_as("crm_sales")
    phone = app.test_client()
    phone.environ_base["HTTP_USER_AGENT"] = (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
    )
    login(phone, user.email)
    page = client.get("/admin/profile/").get_data(as_text=True)
    assert "Safari on iPhone" in page and "This browser" in page
    phone_session = db.session.scalar(
        select(UserSession.id).where(UserSession.user_agent.contains("iPhone"))
    )
    response = _profile_post(client, "/admin/profile/sessions/end/", {"id": str(phone_session)})
    assert response.status_code == 302
    assert not _signed_in(phone)
    assert _signed_in(client)


def test_ending_a_session_of_someone_else_changes_nothing(app, client, make_user, login_as):
    victim = make_user("crm_sales")
    browser = app.test_client()
    login(browser, victim.email)
    victims_session = db.session.scalar(
        select(UserSession.id).where(UserSession.user_id == victim.id)
    )
    login_as("crm_sales")
    response = _profile_post(client, "/admin/profile/sessions/end/", {"id": str(victims_session)})
    assert response.status_code == 302
    assert _signed_in(browser)


def test_a_session_ended_through_one_app_process_is_ended_in_every_other(
    app, client, make_user, database_url, tmp_path
):
    """Several gunicorn workers (or machines) share nothing but the database."""
    other_worker = create_app(_base_config(tmp_path / "worker2", database_url))
    user = make_user("crm_sales")
    login(client, user.email)
    copy = other_worker.test_client()
    copy.set_cookie("session", _cookie(client, "session"))
    with other_worker.app_context():
        assert copy.get(SIGNED_IN_PAGE).status_code == 200
    _sign_out(client)
    with other_worker.app_context():
        assert copy.get(SIGNED_IN_PAGE).status_code == 302
        db.session.remove()
        db.engine.dispose()


def test_a_session_ended_while_a_request_marks_it_used_is_no_error(app, client, make_user):
    """Sign out everywhere in one browser while another request of the same session marks it
    used: the mark touches nothing, and the request is not signed in (never a 500)."""
    from crm.services.platform import sessions

    user = make_user("crm_sales")
    login(client, user.email)
    assert _sessions_of(user) == 1
    db.session.execute(update(UserSession).values(last_seen_at=utcnow() - timedelta(minutes=5)))
    db.session.commit()
    with app.test_request_context():
        found = db.session.scalar(select(UserSession))
        with db.engine.begin() as elsewhere:  # another request ends it meanwhile
            elsewhere.execute(UserSession.__table__.delete())
        assert sessions.touch_due(found)
        db.session.commit()
    assert _sessions_of(user) == 0
    assert not _signed_in(client)
