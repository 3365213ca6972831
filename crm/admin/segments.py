"""Segments (as in Webasyst CRM) and marketing lists (as in SimpleOne)."""

from __future__ import annotations

import csv
import io
import re
from typing import Any
from urllib.parse import urlencode

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select
from wtforms import StringField

from crm.admin.base import CrmModelView
from crm.admin.committing import CHANGED_MEANWHILE, commit_or_explain
from crm.admin.fields import EnumSelectField
from crm.admin.forms import CsrfTokenRule
from crm.auth.permissions import can
from crm.errors import PermissionDenied, ValidationFailed
from crm.extensions import db
from crm.models import MarketingList, Segment, SegmentKind
from crm.services.lists import consent, segments
from crm.services.platform import audit
from crm.services.transfer.importing.targets import neutralise
from crm.streaming import streamed_download


def _segment_members(view: Any, _context: Any, model: Segment, _name: str) -> Markup:
    if model.kind == SegmentKind.DYNAMIC:
        return Markup('<a href="{}">open (computed now)</a>').format(
            url_for("contact.index_view") + "?" + (model.query or "")
        )
    count = getattr(model, "_member_count", 0)
    return Markup('<a href="{}">{:,} member(s)</a>').format(
        url_for("contact.index_view", flt0_segment_is=model.id, show="all"), count
    )


class SegmentView(CrmModelView):
    permission_prefix = "segment"
    column_list = ("name", "kind", "members", "owner", "updated_at")
    column_labels = {"members": "Members", "updated_at": "Updated", "query": "Filter"}
    column_formatters = {"members": _segment_members}
    column_sortable_list = ("name", "updated_at")
    column_default_sort = [("name", False)]
    can_view_details = False
    form_columns = ("name", "description", "kind", "query")
    form_create_rules = form_edit_rules = (CsrfTokenRule(), "name", "description", "kind", "query")
    form_extra_fields = {
        "kind": EnumSelectField("Kind", enum_cls=SegmentKind, default="static"),
        "query": StringField(
            "Filter (dynamic segments)",
            description="The contact list's filters; use 'Save as dynamic segment' on a "
            "filtered contact list to fill this in.",
        ),
    }

    def __init__(self, **kwargs: Any):
        super().__init__(
            Segment,
            name="Segments",
            endpoint="segment",
            url="segments",
            category="Contacts",
            **kwargs,
        )

    def _allowed(self, verb: str) -> bool:
        return can(current_user, "contact.view" if verb == "view" else "segment.manage")

    def get_list(self, *args: Any, **kwargs: Any):
        count, rows = super().get_list(*args, **kwargs)
        counts = segments.segment_member_counts(current_user, [r.id for r in rows])
        for row in rows:
            row._member_count = counts.get(row.id, 0)
        return count, rows

    def create_form(self, obj: Any = None):
        form = super().create_form(obj)
        if request.method == "GET" and request.args.get("query"):
            form.kind.data = SegmentKind.DYNAMIC
            form.query.data = segments.clean_list_query(request.args["query"])
        return form

    def on_model_change(self, form: Any, model: Segment, is_created: bool) -> None:
        try:
            segments.save_segment(current_user, model)
        except ValidationFailed as exc:
            self.attach_errors(form, exc.errors)
            raise

    def delete_record(self, model: Segment) -> None:
        segments.delete_segment(current_user, model)


def _list_members(view: Any, _context: Any, model: MarketingList, _name: str) -> Markup:
    total, flagged = getattr(model, "_counts", (0, 0))
    flag = Markup(' <span class="badge badge-warning">{:,} flagged</span>').format(flagged)
    return Markup('<a href="{}">{:,} member(s)</a>{}').format(
        view.get_url(".members_view", id=model.id), total, flag if flagged else ""
    )


class MarketingListView(CrmModelView):
    permission_prefix = "marketing_list"
    column_list = ("name", "members", "active", "owner", "updated_at")
    column_labels = {"members": "Members", "updated_at": "Updated"}
    column_formatters = {"members": _list_members}
    column_sortable_list = ("name", "active", "updated_at")
    column_default_sort = [("name", False)]
    can_view_details = False
    form_columns = ("name", "description", "active")
    form_create_rules = form_edit_rules = (CsrfTokenRule(), "name", "description", "active")

    def __init__(self, **kwargs: Any):
        super().__init__(
            MarketingList,
            name="Marketing lists",
            endpoint="marketing_list",
            url="marketing-lists",
            category="Contacts",
            **kwargs,
        )

    def _allowed(self, verb: str) -> bool:
        return can(current_user, "contact.view" if verb == "view" else "marketing_list.manage")

    def get_list(self, *args: Any, **kwargs: Any):
        count, rows = super().get_list(*args, **kwargs)
        counts = segments.marketing_list_counts(current_user, [r.id for r in rows])
        for row in rows:
            row._counts = counts.get(row.id, (0, 0))
        return count, rows

    def on_model_change(self, form: Any, model: MarketingList, is_created: bool) -> None:
        try:
            segments.save_marketing_list(current_user, model)
        except ValidationFailed as exc:
            self.attach_errors(form, exc.errors)
            raise

    def delete_record(self, model: MarketingList) -> None:
        segments.delete_marketing_list(current_user, model)

    @expose("/recipients.csv", methods=("POST",))
    def recipients_view(self):
        """The list's members marketing mail may go to (consent, no do-not-email, an email),
        with each one's unsubscribe link, for the mailing tool. A POST: the download is
        recorded in the history, as every export is."""
        if not can(current_user, "contact.export"):
            abort(403)
        mlist = self.get_one(request.args.get("id"))
        # The lines are written after the request's session is closed: plain values only.
        list_id, name = mlist.id, mlist.name

        def lines():
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(["Email", "First name", "Last name", "Unsubscribe link"])
            yield out.getvalue()
            out.seek(0)
            out.truncate()
            for contact in consent.marketing_recipients(current_user, list_id):
                writer.writerow([neutralise(v) for v in (
                    contact.email, contact.first_name, contact.last_name,
                    consent.unsubscribe_link(contact),
                )])  # fmt: skip
                yield out.getvalue()
                out.seek(0)
                out.truncate()

        audit.record_event(
            db.session, current_user, "export", "marketing_list",
            f"Recipients of {name} downloaded", {}, entity_id=list_id,
        )  # fmt: skip
        db.session.commit()
        stem = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-") or "list"
        return streamed_download(
            lines(), mimetype="text/csv; charset=utf-8", filename=f"{stem}-recipients.csv"
        )

    @expose("/members/", methods=("GET", "POST"))
    def members_view(self):
        mlist = self.get_one(request.args.get("id"))
        if request.method == "POST":
            chosen = [int(i) for i in request.form.getlist("contact_id") if i.isdigit()]
            with commit_or_explain(quiet=True, conflict_message=CHANGED_MEANWHILE) as outcome:
                removed = segments.remove_list_members(current_user, mlist.id, chosen)
            if isinstance(outcome.error, PermissionDenied):
                abort(403, outcome.message)
            if outcome:
                flash(f"{removed} member(s) removed from {mlist.name}.", "success")
            else:
                flash(outcome.message, "error")
            return redirect(request.full_path)
        page = max(0, request.args.get("page", 0, type=int))
        rows = segments.marketing_list_members(current_user, mlist.id, page)
        total, flagged = segments.marketing_list_counts(current_user, [mlist.id]).get(
            mlist.id, (0, 0)
        )
        return self.render(
            "admin/marketing_list_members.html",
            mlist=mlist,
            rows=rows,
            page=page,
            total=total,
            flagged=flagged,
            has_next=len(rows) == 50,
            can_remove=can(current_user, "marketing_list.add_members"),
            can_download=can(current_user, "contact.export"),
            contacts_url=url_for("contact.index_view")
            + "?"
            + urlencode({"flt0_marketing_list_is": mlist.id, "show": "all"}),
        )


def marketing_lists_for_filter() -> list[tuple[str, str]]:
    return [
        (str(m.id), m.name)
        for m in db.session.scalars(select(MarketingList).order_by(MarketingList.name))
    ]
