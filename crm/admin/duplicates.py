"""Contacts → Possible duplicates: groups of contacts that look like the same person, each
with its reasons and score, a "Merge…" form and a "Not duplicates" button.

The contacts compared are every contact the user sees, the ones matching the contact list's
search and filters ("Find duplicates among these" on the list), or the user's selection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from crm.admin.committing import CHANGED_MEANWHILE, commit_or_explain
from crm.admin.pages import PermissionPage
from crm.errors import PermissionDenied
from crm.extensions import db
from crm.models import Contact, Phone
from crm.services.contacts import selection
from crm.services.contacts.duplicates import MAX_COMPARED as _MAX_COMPARED
from crm.services.contacts.duplicates import DuplicateGroup, compare, mark_not_duplicates
from crm.services.lists import segments

if TYPE_CHECKING:
    from crm.admin.contacts.view import ContactView

MAX_COMPARED = _MAX_COMPARED  # the service's limit; tests lower it here
MAX_GROUPS = 200  # groups shown on the page; the rest are counted
# What the page compares, by its `among` argument.
AMONG = {
    "": "all contacts you can see",
    "matching": "the contacts matching the contact list",
    "selection": "your selected contacts",
}


@dataclass(frozen=True)
class GroupRow:
    """One group as the page shows it: its contacts (as loaded) in id order."""

    group: DuplicateGroup
    contacts: list[Contact]


def _ids(values: list[str]) -> list[int] | None:
    """The posted ids as numbers; None when any is not a number."""
    try:
        return sorted({int(v) for v in values})
    except ValueError:
        return None


def _page_query(among: str) -> str:
    """This page's query string: what it compares and, for "matching", the list's search,
    filters and tab (only the list's own arguments, so nothing else is passed on)."""
    if not among:
        return ""
    kept = segments.clean_list_query(request.query_string.decode("utf-8", "replace"))
    return urlencode([("among", among)]) + (f"&{kept}" if kept else "")


class DuplicatesView(PermissionPage):
    permission = "contact.merge"

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("name", "Possible duplicates")
        kwargs.setdefault("category", "Contacts")
        super().__init__(endpoint="duplicates", url="duplicates", **kwargs)

    def _contact_view(self) -> ContactView:
        """The contact list as registered (endpoint "contact"): its filters are built per
        view, so "matching" asks that view rather than importing its class."""
        return next(v for v in self.admin._views if getattr(v, "endpoint", None) == "contact")

    def _compared(self, among: str):
        """A select of the ids to compare (None: every contact the user sees)."""
        if among == "selection":
            return selection.selected_ids(current_user)
        if among == "matching":  # the list's own query, for its search, filters and tab
            args = {**request.args.to_dict(), "target": "matching"}
            query, _ = self._contact_view().bulk_target(args)
            return query.statement
        return None

    @expose("/")
    def index(self):
        among = request.args.get("among", "")
        if among not in AMONG:
            flash("Unknown set of contacts to compare: showing all contacts you can see.", "error")
            return redirect(url_for(".index"))
        found = compare(current_user, self._compared(among), MAX_COMPARED)
        total, too_many, groups = found.total, found.too_many, found.groups
        more = max(0, len(groups) - MAX_GROUPS)
        rows = self._rows(groups[:MAX_GROUPS])
        query = _page_query(among)
        return self.render(
            "admin/duplicates.html",
            among=among,
            described=AMONG[among],
            total=total,
            too_many=too_many,
            max_compared=MAX_COMPARED,
            rows=rows,
            more=more,
            selection_count=selection.count(current_user),
            page_query=f"?{query}" if query else "",
            list_query=segments.clean_list_query(request.query_string.decode("utf-8", "replace")),
        )

    def _rows(self, groups: list[DuplicateGroup]) -> list[GroupRow]:
        """The groups with their contacts, account and phones loaded in a few queries."""
        ids = {i for g in groups for i in g.contact_ids}
        if not ids:
            return []
        loaded = {
            c.id: c
            for c in db.session.scalars(
                select(Contact)
                .where(Contact.id.in_(ids))
                .options(
                    selectinload(Contact.account),
                    selectinload(Contact.phones).selectinload(Phone.phone_type),
                )
            )
        }
        return [GroupRow(g, [loaded[i] for i in g.contact_ids if i in loaded]) for g in groups]

    @expose("/not-duplicates/", methods=("POST",))
    def not_duplicates(self):
        """Remember that the posted contacts are different people; back to the page."""
        among = request.args.get("among", "")
        query = _page_query(among if among in AMONG else "")
        back = url_for(".index") + (f"?{query}" if query else "")
        wanted = _ids(request.form.getlist("ids"))
        if not wanted or len(wanted) < 2:
            flash("Choose two or more contacts to mark as not duplicates.", "error")
            return redirect(back)
        with commit_or_explain(quiet=True, conflict_message=CHANGED_MEANWHILE) as outcome:
            added = mark_not_duplicates(current_user, wanted)
        if isinstance(outcome.error, PermissionDenied):
            abort(403)
        if not outcome:  # unknown ids, or ids of contacts out of sight
            flash(f"Nothing was marked. {outcome.message}", "error")
            return redirect(back)
        names = ", ".join(
            c.full_name
            for c in db.session.scalars(
                select(Contact).where(Contact.id.in_(wanted)).order_by(Contact.id)
            )
        )
        flash(
            f"Marked as different people: {names}. They will not be proposed as duplicates "
            f"of each other again ({added} new pair(s)).",
            "success",
        )
        return redirect(back)
