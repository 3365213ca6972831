"""Tasks: the list across contacts and accounts (Activities > Tasks), its form and status
buttons (a contact's Tasks tab is crm.admin.tasks_tab). The rules are
crm.services.card.tasks'; what a user sees goes through its `task_visibility` (the list,
counts, and every record opened by id)."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, g, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.helpers import get_redirect_target
from flask_admin.model.template import TemplateLinkRowAction
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload
from wtforms.fields import DateField
from wtforms.validators import Optional

from crm.admin.base import CrmModelView
from crm.admin.committing import CHANGED_MEANWHILE, commit_or_explain
from crm.admin.fields import EnumSelectField
from crm.admin.list_filters import WhereFilter
from crm.admin.pickers import (
    company_picker,
    contact_picker,
    employees,
    user_choice,
    user_options,
)
from crm.auth.permissions import can
from crm.extensions import db
from crm.models import OPEN_TASK_STATUSES, Account, Contact, Task, TaskStatus, User
from crm.services.card import appointments, tasks
from crm.services.contacts import search
from crm.services.platform import access, local_time
from crm.services.platform.validation import clean_text

# The list's scopes (the pills above it): open and in progress (the default), overdue, all.
TASK_SCOPES = {"open": "Open", "overdue": "Overdue", "all": "All"}


def text_choice(value: str) -> str:
    text = (clean_text(value) or "")[:100]
    if not text:
        raise ValueError(value)
    return text


def status_choice(value: str) -> tuple[TaskStatus, ...]:
    statuses = tasks.statuses_of(value)
    if not statuses:
        raise ValueError(value)
    return statuses


def _status_filter() -> WhereFilter:
    options = [("active", "Open or in progress"), *TaskStatus.choices()]
    return WhereFilter(Task.status, "Status", "is", lambda found: Task.status.in_(found),
                       clean=status_choice, options=options)  # fmt: skip


def _owner_filter() -> WhereFilter:
    def build(user_id: int | None) -> Any:
        return Task.owner_id.is_(None) if user_id is None else Task.owner_id == user_id

    return WhereFilter(Task.owner_id, "Owner", "is", build, clean=user_choice,
                       options=user_options())  # fmt: skip


def _contact_filter() -> WhereFilter:
    def build(text: str) -> Any:
        clause = search.contact_search_clause(text)
        return Task.contact_id.in_(select(Contact.id).where(clause))

    def clean(value: str) -> str:
        text = text_choice(value)
        if search.contact_search_clause(text) is None:
            raise ValueError(value)
        return text

    return WhereFilter(Task.contact_id, "Contact", "name contains", build, clean=clean)


def _account_filter() -> WhereFilter:
    def build(text: str) -> Any:
        names = func.lower(Account.name).contains(text.lower(), autoescape=True)
        return Task.account_id.in_(select(Account.id).where(names))

    return WhereFilter(Task.account_id, "Account", "name contains", build, clean=text_choice)


def _due(_view: Any, _context: Any, model: Task, _name: str) -> Any:
    if model.due_on is None:
        return ""
    if model.is_overdue(local_time.today()):
        return Markup(
            '<span class="text-danger font-weight-bold task-due">{}</span> '
            '<span class="badge badge-danger task-overdue">Overdue</span>'
        ).format(model.due_on.isoformat())
    return model.due_on.isoformat()


def _seen(kind: str, ids: set[int]) -> set[int]:
    """Those of `ids` (contacts or accounts) the signed-in user may see: read once per list
    page (TaskView.get_list), else asked."""
    cached = g.get("crm_task_seen") or {}
    if kind in cached:
        return cached[kind]
    ask = (
        appointments.visible_contact_ids if kind == "contact" else appointments.visible_account_ids
    )
    return ask(current_user, ids)


HIDDEN = Markup('<span class="text-muted">(one you may not see)</span>')


def _contact_link(_view: Any, _context: Any, model: Task, _name: str) -> Any:
    if model.contact is None:
        return ""
    if model.contact_id not in _seen("contact", {model.contact_id}):
        return HIDDEN  # the task is the user's, its contact is not
    url = url_for("contact.details_view", id=model.contact_id, tab="tasks")
    return Markup('<a href="{}">{}</a>').format(url, model.contact)


def _account_link(_view: Any, _context: Any, model: Task, _name: str) -> Any:
    if model.account is None:
        return ""
    if model.account_id not in _seen("account", {model.account_id}):
        return HIDDEN
    url = url_for("account.details_view", id=model.account_id)
    return Markup('<a href="{}">{}</a>').format(url, model.account)


def _status_badge(_view: Any, _context: Any, model: Task, _name: str) -> Any:
    css = {"open": "badge-primary", "in_progress": "badge-info", "done": "badge-success",
           "cancelled": "badge-secondary"}[model.status.value]  # fmt: skip
    return Markup('<span class="badge {}">{}</span>').format(css, model.status.label)


# The service's field names as the form names them.
_FORM_FIELDS = {"contact_id": "contact", "account_id": "account", "owner_id": "owner"}


class TaskView(CrmModelView):
    """Tasks across contacts and accounts: open ones by default, the soonest due first."""

    list_template = "admin/task_list.html"
    details_template = "admin/task_details.html"
    column_list = ("title", "status", "due_on", "contact", "account", "owner")
    column_labels = {"due_on": "Due", "completed_at": "Completed", "created_by": "Created by"}
    column_formatters = {
        "due_on": _due,
        "contact": _contact_link,
        "account": _account_link,
        "status": _status_badge,
    }
    column_formatters_detail = column_formatters
    column_sortable_list = ("title", "status", "due_on")
    column_searchable_list = ("title",)
    column_details_list = ("title", "status", "due_on", "contact", "account", "owner",
                           "description", "completed_at", "created_by", "created_at",
                           "updated_at")  # fmt: skip
    named_filter_urls = True
    form_columns = ("title", "description", "status", "due_on", "owner", "contact", "account")
    form_extra_fields = {
        "status": EnumSelectField("Status", enum_cls=TaskStatus, default="open"),
        "due_on": DateField("Due", [Optional()], render_kw={"class": "form-control"}),
    }
    form_args = {
        "owner": {
            "allow_blank": True, "blank_text": "—", "query_factory": employees,
            "description": "Who does it",
        },
        "contact": {"description": "The contact this task is for (or choose an account)"},
    }  # fmt: skip
    column_extra_row_actions = [TemplateLinkRowAction("task_row.mark_done", "Mark done")]

    def __init__(self, **kwargs: Any):
        self.column_filters = [
            _status_filter(), _owner_filter(), "due_on", _contact_filter(), _account_filter(),
        ]  # fmt: skip
        self.form_ajax_refs = {
            "contact": contact_picker("contact"),
            "account": company_picker("account"),
        }  # fmt: skip
        super().__init__(
            Task, name="Tasks", endpoint="task", url="/admin/tasks", category="Activities",
            **kwargs,
        )  # fmt: skip

    def _allowed(self, verb: str) -> bool:
        return can(current_user, "contact.view" if verb == "view" else "task.edit")

    def is_action_allowed(self, name: str) -> bool:
        if name == "mark_done":
            return self._allowed("edit")
        return super().is_action_allowed(name)

    # ---- the list -------------------------------------------------------------------------
    def _scoped(self, query: Any) -> Any:
        scope = g.get("crm_task_scope")
        if scope == "open":
            return query.filter(Task.status.in_(OPEN_TASK_STATUSES))
        if scope == "overdue":
            return query.filter(tasks.overdue_clause())
        return query

    def get_query(self):
        query = super().get_query().filter(tasks.task_visibility(current_user))
        query = query.options(
            selectinload(Task.contact), selectinload(Task.account), selectinload(Task.owner)
        )
        return self._scoped(query)

    def get_count_query(self):
        return self._scoped(super().get_count_query().filter(tasks.task_visibility(current_user)))

    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True, page_size=None):
        count, rows = super().get_list(
            page, sort_column, sort_desc, search, filters, execute, page_size
        )
        if execute:  # which of the page's contacts and accounts the user sees, at once
            rows = list(rows)
            g.crm_task_seen = {
                "contact": appointments.visible_contact_ids(
                    current_user, {t.contact_id for t in rows if t.contact_id}
                ),
                "account": appointments.visible_account_ids(
                    current_user, {t.account_id for t in rows if t.account_id}
                ),
            }
        return count, rows

    def _get_default_order(self):
        """Open ones first, then the soonest due (no due date last), then the oldest."""
        yield Task.status.not_in(OPEN_TASK_STATUSES), [], False
        yield Task.due_on.is_(None), [], False
        yield Task.due_on, [], False
        yield Task.id, [], False

    @expose("/")
    def index_view(self):
        scope = request.args.get("show")
        if scope not in TASK_SCOPES:  # a chosen status filter shows what it asks for
            by_status = any(key.endswith("_status_is") for key in request.args)
            scope = "all" if by_status else "open"
        g.crm_task_scope = scope
        self._template_args["task_scopes"] = TASK_SCOPES
        self._template_args["task_scope"] = scope
        self._template_args["today"] = local_time.today()
        return super().index_view()

    # ---- the form -------------------------------------------------------------------------
    def _shape_form(self, form: Any) -> Any:
        if not can(current_user, "contact.transfer"):
            del form.owner  # sales do not give tasks away: they own what they create
        return form

    def create_form(self, obj: Any = None):
        form = self._shape_form(super().create_form(obj))
        if request.method == "GET":  # "New task" from a contact's or an account's page
            contact = access.get_visible_contact(current_user, request.args.get("contact_id"))
            if contact is not None:
                form.contact.data = contact
            account = access.get_visible_account(current_user, request.args.get("account_id"))
            if account is not None and not account.is_hidden:
                form.account.data = account
            if "owner" in form:
                form.owner.data = db.session.get(User, current_user.id)
        return form

    def edit_form(self, obj: Any = None):
        form = self._shape_form(super().edit_form(obj))
        # A task of the user's on a contact (account) they may not see: that field is not
        # shown, and stays as it is.
        if obj is not None and obj.contact_id and not _seen("contact", {obj.contact_id}):
            del form.contact
        if obj is not None and obj.account_id and not _seen("account", {obj.account_id}):
            del form.account
        return form

    def _form_data(self, form: Any) -> dict[str, Any]:
        data = {
            "title": form.title.data,
            "description": form.description.data,
            "status": form.status.data,
            "due_on": form.due_on.data,
        }
        for name in ("owner", "contact", "account"):
            if name in form:
                data[f"{name}_id"] = form[name].data
        return data

    def create_model(self, form: Any):
        saved: list[Task] = []

        def change() -> None:
            saved.append(tasks.save_task(current_user, None, self._form_data(form)))

        return saved[0] if self.save_and_commit(form, change) else False

    def update_model(self, form: Any, model: Task) -> bool:
        return self.save_and_commit(
            form, lambda: tasks.save_task(current_user, model, self._form_data(form))
        )

    def attach_errors(self, form: Any, errors: dict[str, list[str]]) -> None:
        super().attach_errors(form, {_FORM_FIELDS.get(k, k): v for k, v in errors.items()})

    def delete_record(self, model: Task) -> None:
        tasks.delete_task(current_user, model)

    # ---- the status buttons ---------------------------------------------------------------
    def render(self, template: str, **kwargs: Any):
        if template == self.details_template:
            kwargs["may_edit"] = can(current_user, "task.edit")
            kwargs["statuses"] = TaskStatus
            kwargs["today"] = local_time.today()
        return super().render(template, **kwargs)

    @expose("/<int:task_id>/status/", methods=("POST",))
    def status(self, task_id: int):
        """Mark the task done (or in progress, cancelled, open again); back to where the
        button was (`url`), else the task's page."""
        if not can(current_user, "task.edit"):
            abort(403)
        task = self.get_one(task_id)
        back = get_redirect_target() or url_for(".details_view", id=task_id)
        try:
            status = TaskStatus(request.form.get("status", ""))
        except ValueError:
            flash("Choose open, in progress, done or cancelled.", "error")
            return redirect(back)
        with commit_or_explain(conflict_message=CHANGED_MEANWHILE) as outcome:
            tasks.set_status(current_user, task, status)
        if outcome:
            flash(f"Task {task.title!r}: {status.label.lower()}.", "success")
        return redirect(back)

    @action("mark_done", "Mark done", "Mark the selected tasks done?")
    def action_mark_done(self, ids: list[str]) -> None:
        wanted = [int(i) for i in ids if str(i).isdigit()]
        query = self.get_query().filter(Task.id.in_(wanted), Task.status != TaskStatus.DONE)
        found = query.all() if wanted else []
        with commit_or_explain(conflict_message=CHANGED_MEANWHILE) as outcome:
            for task in found:
                tasks.set_status(current_user, task, TaskStatus.DONE)
        if outcome:
            flash(f"{len(found)} task(s) marked done.", "success")
