"""How a dynamic segment's saved filter selects its contacts: the contact list's own search,
filters and tab (Flask-Admin's filter arguments), applied for the user who sends a campaign,
outside any request of theirs (the scheduler) or inside one (Send now)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app, g, request
from sqlalchemy import Select

from crm.admin.contacts.listing import list_scope
from crm.models import Contact

_MISSING = object()


def dynamic_members(view: Any) -> Callable[[Any, str], Select]:
    """A resolver for crm.services.marketing.audience: (actor, saved list arguments) -> a
    select of the ids the contact list shows `actor` for those arguments."""

    def resolve(actor: Any, query_string: str) -> Select:
        # The user itself, not Flask-Login's proxy of it (which would then point to itself).
        actor = getattr(actor, "_get_current_object", lambda: actor)()
        saved_user = g.get("_login_user", _MISSING)
        with current_app.test_request_context("/admin/contact/?" + query_string):
            g._login_user = actor  # Flask-Login's current user, for the list's gate
            try:
                args = request.args
                query = view.matching_query(
                    args.get("search"), view._get_list_filter_args(), list_scope(args)
                )
                return query.with_entities(Contact.id).order_by(None).statement
            finally:
                if saved_user is _MISSING:
                    g.pop("_login_user", None)
                else:
                    g._login_user = saved_user

    return resolve
