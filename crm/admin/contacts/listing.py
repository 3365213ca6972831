"""The contact list: its tabs (active, inactive, all, selected), the query of the contacts
matching a search, filters and tab (shared with bulk work on "all matching"), how it counts
and pages them, and the columns the user chose."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from flask import abort, g, has_request_context, jsonify, redirect, request, url_for
from flask_admin import expose
from flask_admin.model.template import ViewRowAction
from flask_login import current_user
from sqlalchemy.orm import selectinload

from crm.admin.base import DEEP_OFFSET, MAX_PAGE
from crm.admin.contacts import columns as contact_columns
from crm.admin.contacts.filters import contact_filters
from crm.auth.permissions import can
from crm.extensions import db
from crm.models import Contact, Phone, User
from crm.services.contacts import filters as contact_filters_where
from crm.services.contacts import search, selection
from crm.services.lists import segments
from crm.services.platform import access, counting, query_plan

LIST_SCOPES = {
    "active": "Active",
    "inactive": "Inactive",
    "all": "All",
    "selected": "Selected contacts",
}


def list_scope(args: Mapping[str, str]) -> str:
    """The list's tab asked for by `?show=` (active unless another known one)."""
    scope = args.get("show", "active")
    return scope if scope in LIST_SCOPES else "active"


class ContactListing:
    """The contact view's list: configuration, the matching query, counting and paging."""

    # Every column a user may show; each request shows its choice (contact_columns).
    column_list = tuple(contact_columns.COLUMNS)
    column_formatters = contact_columns.FORMATTERS
    column_sortable_list = contact_columns.SORTABLE
    column_default_sort = [("last_name", False), ("first_name", False), ("id", False)]
    # Enables Flask-Admin's search box; the search itself is services.search.
    column_searchable_list = ("last_name",)
    # Filters are built per view (list_filters(): contact_filters() plus these columns).
    # No "active" filter: the Active / Inactive / All tabs are that filter (a second one
    # could only contradict them).
    _column_filters = ("email_marketing", "do_not_email", "do_not_call", "created_at", "updated_at")
    named_filter_urls = True  # stable links: ?flt0_tag_is=VIP

    def get_list_row_actions(self):
        # A click on the row's name opens the card: the eye icon would say the same again.
        actions = super().get_list_row_actions()  # type: ignore[misc]
        return [a for a in actions if not isinstance(a, ViewRowAction)]

    def list_filters(self) -> list[Any]:
        """The filter menu's filters: built per view (their options are read per request)."""
        return [*contact_filters(), *self._column_filters]

    def _scoped(self, query, scope: str | None = None, use_index: bool = True):
        """`query` gated to what the user sees, and to the list's tab `scope` when given
        (records opened by id get no tab: inactive ones open too)."""
        query = query.filter(access.contact_visibility(current_user, use_index=use_index))
        active = Contact.active if use_index else access.unindexed(Contact.__table__.c.active)
        if scope == "active":
            query = query.filter(active.is_(True))
        elif scope == "inactive":
            query = query.filter(active.is_(False))
        elif scope == "selected":
            query = query.filter(contact_filters_where.in_selection_of(current_user.id))
        return query

    def get_query(self):
        return self._scoped(super().get_query()).options(
            selectinload(Contact.account),
            selectinload(Contact.owner),
            selectinload(Contact.phones).selectinload(Phone.phone_type),
        )

    def get_count_query(self):
        return self._scoped(super().get_count_query())

    def matching_query(
        self,
        search_text: str | None,
        filters: Any,
        scope: str | None = None,
        use_index: bool = True,
        walks_index: bool = False,
    ):
        """The contacts a list shows for this search, filters and scope: gated, unordered.
        Bulk actions on "all matching" use the same query as the list. `use_index=False`
        phrases the gate and scope so the planner drives by the filters' or sort's index;
        which filter or search may drive is decided by services.query_plan."""
        with query_plan.planning(walks_index=walks_index) as plan:
            query = self._matching(search_text, filters, scope, use_index)
            if plan.decide():
                query = self._matching(search_text, filters, scope, use_index)
        return query

    def _matching(self, search_text: str | None, filters: Any, scope: str | None, use_index):
        query = self._scoped(db.session.query(Contact), scope, use_index)
        clause = search.contact_search_clause(search_text)
        if clause is not None:
            query = query.filter(clause)
        if filters and self._filters:
            query, _, _, _ = self._apply_filters(query, None, {}, {}, filters)
        return query

    def get_list(
        self, page, sort_column, sort_desc, search_text, filters, execute=True, page_size=None
    ):
        page = max(0, min(page or 0, MAX_PAGE))
        scope = list_scope(request.args)  # Flask-Admin calls this from the list page only
        # Count up to the cap, driven by the filters' indexes (or just the first rows).
        counted = self.matching_query(search_text, filters, scope, use_index=False)
        found = counting.list_count(counted.with_entities(Contact.id).statement)
        g.crm_list_count = found  # the list's template says how many (as base.ListCountQuery)
        over_cap = not found.exact or found.value > counting.COUNT_CAP
        count = found.value if found.exact else None
        # Many matches sorted by name: walk the (live, active, name) index and stop after a
        # page. Few matches, or another sort: let the filter's or the sort's index drive.
        by_name = sort_column is None or sort_column == "last_name"
        walk_name_index = over_cap and by_name and scope in ("active", "inactive")
        # Many matches: the name's or the sort's index is walked for a page.
        query = self.matching_query(
            search_text, filters, scope, use_index=walk_name_index, walks_index=over_cap
        )
        rank = search.search_rank(search_text) if sort_column is None else None
        if rank is not None and not over_cap:
            query = query.order_by(rank)  # exact, then prefix matches, then the rest by name
        query, _ = self._apply_sorting(query, {}, sort_column, sort_desc)
        if sort_column is not None and sort_column != "last_name":
            # Ties in email/status/date: stable pages, in the sort's direction so that one
            # index, read backwards for a descending sort, serves both.
            query = query.order_by(Contact.id.desc() if sort_desc else Contact.id)
        query = self._apply_pagination(query, page, page_size)
        if execute and page * (page_size or self.page_size) >= DEEP_OFFSET:
            return count, self.page_rows(query, self._with_list_rows(db.session.query(Contact)))
        query = self._with_list_rows(query)
        return count, (query.all() if execute else query)

    def _with_list_rows(self, query):
        """What the shown columns read besides the contact: loaded in a few queries."""
        shown = self._shown_columns()
        options = contact_columns.loader_options(shown)
        # An owner's or responsible user's name is shown, not their roles (which a user
        # otherwise loads with itself: one more query and its Python work per page).
        for column in ("owner", "responsible"):
            if column in shown:
                options.append(selectinload(getattr(Contact, column)).lazyload(User.roles))
        return query.options(*options)

    # ---- the user's choice of columns ------------------------------------------------
    def _shown_columns(self) -> list[str]:
        return contact_columns.chosen(request.args) if has_request_context() else []

    def _shown_list_columns(self) -> list[tuple[str, str]]:
        return [(c, contact_columns.COLUMNS[c]) for c in self._shown_columns()]

    def _get_column_by_idx(self, idx: int | None):
        """Sort links number the columns shown: `?sort=2` is the third of them."""
        columns = self._shown_list_columns()
        if idx is None or idx < 0 or idx >= len(columns):
            return None
        return columns[idx]

    def render(self, template: str, **kwargs: Any):
        if template == self.list_template and "list_columns" in kwargs:
            kwargs["list_columns"] = self._shown_list_columns()
            shown = set(self._shown_columns())
            kwargs["column_choices"] = [
                (name, label, name in shown) for name, label in contact_columns.COLUMNS.items()
            ]
        return super().render(template, **kwargs)

    def search_placeholder(self) -> str:
        return "Name, email, phone or company"

    def _get_filter_groups(self):
        """The filter menu, with options (users, categories, ...) read at each request:
        Flask-Admin would compute them once, when the app starts. A filter with a long,
        fixed list of options (the countries) names where to load them instead
        (`options_url`, read by static/filter_options.js when the filter is chosen)."""
        groups: dict[str, list[dict[str, Any]]] = {}
        read: dict[Any, Any] = {}  # options read by a function, once (owner and responsible)
        for index, flt in enumerate(self._filters or []):
            arg = self.get_filter_arg(index, flt)
            entry: dict[str, Any] = {
                "index": index,
                "arg": arg,
                "operation": str(flt.operation()),
                "options": None,
                "type": flt.data_type,
            }
            if getattr(flt, "options_on_demand", False):
                entry["options_url"] = url_for(".filter_options_view", arg=arg)
            else:
                if callable(flt.options):
                    if flt.options not in read:
                        read[flt.options] = flt.get_options(self)
                    options = read[flt.options]
                else:
                    options = flt.get_options(self)
                entry["options"] = [(k, str(v)) for k, v in options] if options else None
            groups.setdefault(str(flt.name), []).append(entry)
        return groups or None

    @expose("/filter-options/")
    def filter_options_view(self):
        """The options of a filter whose menu loads them when it is chosen (`?arg=`)."""
        arg = request.args.get("arg", "")
        for index, flt in enumerate(self._filters or []):
            if getattr(flt, "options_on_demand", False) and self.get_filter_arg(index, flt) == arg:
                return jsonify([(k, str(v)) for k, v in flt.get_options(self) or []])
        abort(404)

    @expose("/")
    def index_view(self):
        self._template_args["list_scopes"] = LIST_SCOPES
        self._template_args["list_scope"] = list_scope(request.args)
        self._template_args["selection_count"] = selection.count(current_user)
        self._template_args["list_query"] = segments.clean_list_query(
            request.query_string.decode("utf-8", "replace")
        )
        self._template_args["can_save_segment"] = can(current_user, "segment.manage")
        if "col" in request.args:  # the Columns form: one short `cols` argument instead
            return redirect(self._columns_url(request.args.getlist("col")))
        self._template_args["default_columns_url"] = self._columns_url(contact_columns.DEFAULT)
        return super().index_view()

    def _columns_url(self, columns) -> str:
        """This list's URL showing `columns` (sorting and paging start again)."""
        args = [
            (k, v)
            for k, v in request.args.items(multi=True)
            if k not in ("col", "cols", "sort", "desc", "page")
        ]
        cols = contact_columns.argument(columns)
        return url_for(".index_view") + "?" + urlencode(args + ([("cols", cols)] if cols else []))
