"""What every admin view shares: role checks, CSRF, safe paging, cheap counts, 404s."""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import abort, flash, g, redirect, request, session, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.contrib.sqla import ModelView
from flask_admin.model import typefmt
from flask_login import current_user
from sqlalchemy import func, literal_column
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Query

from crm.admin import page_weight, row_actions
from crm.admin.committing import (
    CHANGED_MEANWHILE,
    NOTHING_SAVED,
    RefusesWriteConflicts,
    attach_errors,
    commit_or_explain,
)
from crm.admin.forms import CrmForm, VersionField
from crm.admin.list_filters import CrmFilterConverter
from crm.admin.pages import sign_in_or_forbid
from crm.auth.permissions import can
from crm.errors import DomainError, StaleEditError, ValidationFailed
from crm.extensions import db
from crm.services.platform import counting
from crm.services.platform.local_time import local_text
from crm.services.platform.validation import clean_text
from crm.services.platform.write_conflicts import is_write_conflict

MAX_PAGE = 100_000  # deeper pages are refused rather than sent to OFFSET
DEEP_OFFSET = 1_000  # from here a page's ids are found first, then its rows


def _datetime(_view: Any, value: datetime, _name: str) -> str:
    return local_text(value)  # stored in UTC, shown in the office's time zone


def _yes_no(_view: Any, value: bool, _name: str) -> str:
    return "Yes" if value else "No"


def _enum_label(_view: Any, value: enum.Enum, _name: str) -> str:
    return str(getattr(value, "label", value.value))


LIST_FORMATTERS = {**typefmt.BASE_FORMATTERS, datetime: _datetime, enum.Enum: _enum_label}
DETAIL_FORMATTERS = {
    **typefmt.DETAIL_FORMATTERS,
    datetime: _datetime,
    bool: _yes_no,
    enum.Enum: _enum_label,
}


class ListCountQuery(Query):
    """Flask-Admin's count query (the view's filters, search and joins applied as usual),
    counted the way lists count (`counting.list_count`: exact up to 10,000, then about N
    or more than N) rather than by a count(*) of every match on each page. The count is
    kept in `g.crm_list_count` for the page; Flask-Admin gets None beyond the exact range,
    which gives the list its next/previous pager."""

    def scalar(self):
        rows = self.statement.with_only_columns(literal_column("1"))
        found = counting.list_count(rows)
        g.crm_list_count = found
        return found.value if found.exact else None


class CrmModelView(RefusesWriteConflicts, ModelView):
    """Base for every model view. Subclasses name their permissions; the checks follow."""

    form_base_class = CrmForm  # CSRFProtect checks the token; no SecureForm on top
    permission_prefix = ""  # "contact" -> contact.view / .create / .edit / .delete
    can_view_details = True
    can_set_page_size = True
    page_size = 20
    page_size_options = (20, 50, 100)
    # Flask-Admin's built-in export loads whole tables and does not neutralise
    # spreadsheet formulas; exports come with the import/export issue.
    can_export = False
    # Relations shown in lists are loaded by each view's get_query (selectinload: one extra
    # query per relation per page), not by Flask-Admin's per-row LEFT JOINs.
    column_auto_select_related = False
    column_type_formatters = LIST_FORMATTERS
    column_type_formatters_detail = DETAIL_FORMATTERS
    list_template = "admin/crm_list.html"
    filter_converter = CrmFilterConverter()

    def __init__(self, model: type, **kwargs: Any):
        super().__init__(model, db, **kwargs)

    def _allowed(self, verb: str) -> bool:
        return can(current_user, f"{self.permission_prefix}.{verb}")

    def render(self, template: str, **kwargs: Any):
        page = super().render(template, **kwargs)
        if template == self.list_template and isinstance(page, str):
            return page_weight.without_indentation(page)  # a list page weighs 40% less
        return page

    def get_list_row_actions(self):
        # The view, edit and delete buttons rendered once per page, not once per row.
        return row_actions.rendered_once(super().get_list_row_actions())

    # ---- optimistic locking: the version an edit form was opened on -------------------
    @property
    def versioned(self) -> bool:
        """Whether the model keeps a version (`version_id_col`): its forms then carry it."""
        return sa_inspect(self.model).version_id_col is not None

    @property
    def record_label(self) -> str:
        """The model in a message: "deal", "account"."""
        return self.model.__name__.lower()

    def scaffold_form(self):
        form_class = super().scaffold_form()
        if self.versioned and not hasattr(form_class, "expected_version"):
            form_class.expected_version = VersionField()
        return form_class

    def edit_form(self, obj: Any = None):
        form = super().edit_form(obj)
        version = getattr(form, "expected_version", None)
        if request.method == "GET" and obj is not None and version is not None:
            version.data = obj.version
        return form

    def check_version(self, form: Any) -> None:
        """StaleEditError when the record moved on since its form was opened: a second
        save of the same version is refused however far apart the two saves are."""
        record = getattr(form, "_obj", None)
        posted = getattr(getattr(form, "expected_version", None), "data", None)
        if record is None or not self.versioned or posted in (None, ""):
            return
        if str(posted) != str(record.version):
            raise StaleEditError(
                f"Someone else saved this {self.record_label} after you opened it. Your "
                "changes were not saved: reload the page to see the current version, then "
                "make your changes again."
            )

    # Flask-Admin reads these flags to decide what to show and allow.
    @property
    def can_create(self) -> bool:  # type: ignore[override]
        return self._allowed("create")

    @property
    def can_edit(self) -> bool:  # type: ignore[override]
        return self._allowed("edit")

    @property
    def can_delete(self) -> bool:  # type: ignore[override]
        return self._allowed("delete")

    def is_accessible(self) -> bool:
        return current_user.is_authenticated and self._allowed("view")

    def is_visible(self) -> bool:
        return self.is_accessible()

    def inaccessible_callback(self, name: str, **kwargs: Any):
        return sign_in_or_forbid()

    _VERB_OF_VIEW = {
        "create_view": "create",
        "edit_view": "edit",
        "delete_view": "delete",
    }

    def _handle_view(self, name: str, **kwargs: Any):
        response = super()._handle_view(name, **kwargs)
        if response is not None:
            return response
        verb = self._VERB_OF_VIEW.get(name)
        if verb and not self._allowed(verb):
            abort(403)
        return None

    def get_one(self, id: Any) -> Any:
        """Records come through the view's (gated) query; a missing one is a 404, unless it
        was merged into a record the user sees: the details and edit pages then lead there."""
        from crm.services.platform.access import record_id

        pk = record_id(id)
        if pk is None:
            abort(404)
        record = self.get_query().filter(self.model.id == pk).one_or_none()
        if record is None:
            self._follow_merge(pk)
            abort(404)
        return record

    def merge_successor(self, pk: int) -> tuple[Any, Any] | None:
        """(the merged record, the visible one it was merged into); None: no old links."""
        return None

    def _follow_merge(self, pk: int) -> None:
        pages = {f"{self.endpoint}.details_view", f"{self.endpoint}.edit_view"}
        if request.method != "GET" or request.endpoint not in pages:
            return
        found = self.merge_successor(pk)
        if found is None:
            return
        merged, master = found
        what = self.model.__name__.lower()
        flash(f"{merged} (#{merged.id}) was merged into this {what}.", "info")
        abort(redirect(url_for(request.endpoint, **{**request.args, "id": master.id})))

    def get_count_query(self):
        # count(*) rather than count('*'): the latter is about three times slower on SQLite.
        return ListCountQuery(func.count(), db.session()).select_from(self.model)

    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True, page_size=None):
        page = max(0, min(page or 0, MAX_PAGE))
        search = clean_text(search)  # no control characters (PostgreSQL refuses NUL)
        count, query = super().get_list(
            page, sort_column, sort_desc, search, filters, False, page_size
        )
        if not execute:
            return count, query
        if page * (page_size or self.page_size) >= DEEP_OFFSET:
            return count, self.page_rows(query, self.get_query())
        return count, query.all()

    def page_rows(self, page_query: Any, rows_query: Any) -> list[Any]:
        """A deep page: its ids are skipped to in an index alone, then its rows are read
        by id through `rows_query` (OFFSET on the full rows reads every skipped row: 55 ms
        for the Accounts list's page 1000 on PostgreSQL, contacts' page 40,000 2.1 s)."""
        ids = [row[0] for row in page_query.with_entities(self.model.id)]
        found = {record.id: record for record in rows_query.filter(self.model.id.in_(ids))}
        return [found[i] for i in ids if i in found]

    def delete_record(self, model: Any) -> None:
        """The service call that deletes `model` under the domain's rules."""
        raise NotImplementedError

    def delete_model(self, model: Any) -> bool:
        with commit_or_explain(what=self.record_label) as outcome:
            self.delete_record(model)
        return bool(outcome)

    # What a delete says when it worked: a view whose delete moves records to a trash says
    # so ({count}: how many).
    deleted_one = "Record was successfully deleted."
    deleted_many = "{count} record(s) deleted."

    @expose("/delete/", methods=("POST",))
    def delete_view(self):
        response = super().delete_view()
        if self.deleted_one != CrmModelView.deleted_one:  # Flask-Admin flashed its own words
            reword_flash(CrmModelView.deleted_one, self.deleted_one)
        return response

    @action("delete", "Delete", "Delete the selected records?")
    def action_delete(self, ids: list[str]) -> None:
        """The ticked records, through the view's (gated) query and the delete service, in
        one transaction. Flask-Admin's own compares the integer ids with the posted text,
        which PostgreSQL refuses."""
        wanted = [int(i) for i in ids if str(i).isdigit()]
        records = self.get_query().filter(self.model.id.in_(wanted)).all() if wanted else []
        with commit_or_explain(conflict_message=CHANGED_MEANWHILE) as outcome:
            for record in records:
                self.delete_record(record)
        if outcome:
            flash(self.deleted_many.format(count=len(records)), "success")

    def save_and_commit(self, form: Any, change: Callable[[], None]) -> bool:
        """Run `change` (populate the model, call its service) and commit, all or nothing;
        a domain error becomes messages on the form's fields or a flash. A stale edit (the
        form's version is not the record's, or someone saved it while this was saved) keeps
        the form with "someone else saved" on it."""
        with commit_or_explain(form, what=self.record_label, attach=self.attach_errors) as outcome:
            self.check_version(form)
            with db.session.no_autoflush:
                change()
        return bool(outcome)

    def attach_errors(self, form: Any, errors: dict[str, list[str]]) -> None:
        """Show a service's field errors on the form's fields (flash those with no field)."""
        attach_errors(form, errors)

    def handle_view_exception(self, exc: Exception) -> bool:
        """Domain errors become a message for the user; anything else is Flask-Admin's."""
        if isinstance(exc, ValidationFailed):
            flash(NOTHING_SAVED, "error")
            return True
        if isinstance(exc, DomainError):
            flash(exc.message, "error")
            return True
        if is_write_conflict(exc):
            flash(CHANGED_MEANWHILE, "error")
            return True
        return super().handle_view_exception(exc)


def reword_flash(said: str, instead: str) -> None:
    """Replace a message Flask-Admin flashed in its own words (not yet shown) by ours."""
    flashes = session.get("_flashes") or []
    session["_flashes"] = [(kind, instead if text == said else text) for kind, text in flashes]
