"""The main menu is drawn once per set of roles and page (crm/admin/menu.py): each user
still sees the menu of their own roles, with the page they are on marked."""

from __future__ import annotations

import re

from crm.extensions import db
from crm.models import Role
from tests.conftest import login


def _items(html: str) -> set[str]:
    start = html.index('<ul class="nav navbar-nav mr-auto">')
    end = html.index('<ul class="nav navbar-nav', start + 10)
    return set(re.findall(r'href="(/admin/[^"]*)"', html[start:end]))


def _active(html: str) -> list[str]:
    start = html.index('<ul class="nav navbar-nav mr-auto">')
    end = html.index('<ul class="nav navbar-nav', start + 10)
    menu = html[start:end]
    in_a_category = re.findall(r'class="dropdown-item active[^"]*" href="([^"]+)"', menu)
    alone = re.findall(r'<li class="active">\s*<a class="nav-link[^"]*" href="([^"]+)"', menu)
    return in_a_category + alone


def test_each_user_sees_the_menu_of_their_roles_on_the_page_they_are_on(client, make_user):
    sales = make_user("crm_sales")
    admin = make_user("crm_admin")

    login(client, admin.email)
    as_admin = client.get("/admin/contact/").get_data(as_text=True)
    assert "/admin/users/" in _items(as_admin) and _active(as_admin) == ["/admin/contact/"]
    on_accounts = client.get("/admin/account/").get_data(as_text=True)
    assert _active(on_accounts) == ["/admin/account/"]

    other = client.application.test_client()  # another browser
    login(other, sales.email)
    as_sales = other.get("/admin/contact/").get_data(as_text=True)
    assert "/admin/users/" not in _items(as_sales) and "/admin/contact/" in _items(as_sales)
    assert _active(as_sales) == ["/admin/contact/"]

    # Given the administrator's role, the same user sees the administrator's menu at once.
    sales.roles.append(db.session.query(Role).filter_by(name="crm_admin").one())
    db.session.commit()
    again = client.application.test_client()  # a change of roles ends the user's sessions
    login(again, sales.email)
    promoted = again.get("/admin/contact/").get_data(as_text=True)
    assert _items(promoted) == _items(as_admin) | _items(as_sales)
