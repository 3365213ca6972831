"""Admin pages that are not model lists: a permission's page, the routes behind a contact
page's buttons, and the dashboard."""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, request, url_for
from flask_admin import AdminIndexView, BaseView, expose
from flask_login import current_user

from crm.admin.committing import RefusesWriteConflicts
from crm.auth.permissions import can


def to_sign_in():
    """To the sign-in page, coming back here after."""
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def sign_in_or_forbid():
    """A page the visitor may not open: sign in first, or 403 when signed in already."""
    if not current_user.is_authenticated:
        return to_sign_in()
    abort(403)


class ContactPageActions(RefusesWriteConflicts, BaseView):
    """The routes behind the forms and buttons of a contact's page (not in the menu): for
    signed-in users (others are sent to sign in); each route asks `contact()` for its right
    and the contact's visibility."""

    def is_visible(self) -> bool:
        return False

    def is_accessible(self) -> bool:
        return current_user.is_authenticated

    def inaccessible_callback(self, name: str, **kwargs: Any):
        return to_sign_in()

    @expose("/")
    def index(self):
        """Nothing to show here: this is on each contact's page."""
        return redirect(url_for("contact.index_view"))

    def contact(self, contact_id: int, permission: str) -> Any:
        """The contact, when the user has `permission` (else 403) and may see it (else 404)."""
        from crm.services.platform.access import get_visible_contact

        if not can(current_user, permission):
            abort(403)
        found = get_visible_contact(current_user, contact_id)
        if found is None:
            abort(404)
        return found


class PermissionPage(RefusesWriteConflicts, BaseView):
    """A custom admin page opened by one permission: signed-out visitors go to the login
    page, signed-in users without the permission get 403, and the menu hides it from them."""

    permission = ""

    def is_accessible(self) -> bool:
        return current_user.is_authenticated and can(current_user, self.permission)

    def is_visible(self) -> bool:
        return self.is_accessible()

    def inaccessible_callback(self, name: str, **kwargs: Any):
        return sign_in_or_forbid()


class DashboardView(AdminIndexView):
    """The admin home; signed-out visitors go to the login page."""

    @expose("/")
    def index(self):
        """Figures linked to the lists they count, the user's tasks due, their recent
        contacts and the team's recent activity."""
        if not current_user.is_authenticated:
            return to_sign_in()
        from crm.services.contacts import dashboard

        tiles = []
        if can(current_user, "contact.view"):
            figures = dashboard.dashboard_figures(current_user)
            contacts = "contact.index_view"
            tiles = [
                ("Active contacts", figures["active_contacts"], url_for(contacts)),
                ("Customers", figures["customers"],
                 url_for(contacts, flt0_customer_status_is="customer")),
                ("Prospects", figures["prospects"],
                 url_for(contacts, flt0_customer_status_is="prospect")),
            ]  # fmt: skip
            if can(current_user, "account.view"):
                tiles.append(("Accounts", figures["accounts"], url_for("account.index_view")))
        return self.render(
            "admin/dashboard.html",
            tiles=tiles,
            my_tasks=dashboard.my_tasks(current_user),
            my_contacts=dashboard.my_recent_contacts(current_user),
            activity=dashboard.team_activity(current_user),
        )
