"""Bulk work on the contact list: the actions on ticked rows, the bulk page (on the selection,
ticked rows or everything matching the list), the export decision (a download now, or a
background job for a large one), saved views and clearing the selection."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_login import current_user
from sqlalchemy import select

from crm.admin.committing import CHANGED_MEANWHILE, commit_or_explain
from crm.admin.contacts.bulk_form import OPERATIONS as BULK_OPERATIONS
from crm.admin.contacts.bulk_form import BulkForm
from crm.admin.contacts.listing import list_scope
from crm.auth.permissions import can
from crm.extensions import db
from crm.models import Contact
from crm.models.base import utcnow
from crm.services.contacts import bulk, selection
from crm.services.lists import segments
from crm.services.marketing import campaigns
from crm.services.merge.plan import MAX_MERGED
from crm.services.platform import access, jobs
from crm.services.transfer import export_jobs, exporting
from crm.streaming import streamed_download


class ContactBulk:
    """The contact view's actions and bulk pages (they use the list's `matching_query`)."""

    # ---- actions on the ticked rows ---------------------------------------------------
    @property
    def can_bulk_edit(self) -> bool:
        return can(current_user, "contact.bulk_edit")

    @property
    def can_merge(self) -> bool:
        return can(current_user, "contact.merge")

    def is_action_allowed(self, name: str) -> bool:
        if name in ("select", "unselect", "bulk"):
            return self.can_bulk_edit
        if name == "email":
            return can(current_user, "campaign.edit")
        if name == "merge":
            return self.can_merge
        return super().is_action_allowed(name)

    @action("select", "Add to selected contacts")
    def action_select(self, ids: list[str]) -> None:
        added = selection.add(current_user, ids)
        db.session.commit()
        flash(
            f"{added} contact(s) added to your selection ({selection.count(current_user)} "
            "selected).",
            "success",
        )

    @action("unselect", "Remove from selected contacts")
    def action_unselect(self, ids: list[str]) -> None:
        removed = selection.remove(current_user, ids)
        db.session.commit()
        flash(f"{removed} contact(s) removed from your selection.", "success")

    @action("bulk", "Tag, assign, add to a list, export…")
    def action_bulk(self, ids: list[str]):
        wanted = ",".join(str(int(i)) for i in ids if str(i).isdigit())
        return redirect(url_for(".bulk_view", target="ids", ids=wanted))

    @action("email", "Send an email…")
    def action_email(self, ids: list[str]):
        """A campaign to the ticked contacts, opened on its compose page."""
        wanted = [int(i) for i in ids if str(i).isdigit()]
        return self._email(select(Contact.id).where(Contact.id.in_(wanted)), "the ticked contacts")

    def _email(self, target, described: str):
        with commit_or_explain(quiet=True) as outcome:
            campaign, how_many = campaigns.start_one_off(current_user, target, described)
        if not outcome:
            flash(outcome.message, "error")
            return redirect(self._return_url(request.args))
        flash(
            f"Write your email to {how_many:,} contact{'s' if how_many != 1 else ''}: when it "
            "is sent, each is checked (an address, consent to email marketing, not do-not-email).",
            "success",
        )
        return redirect(url_for("campaign.edit_view", id=campaign.id))

    @action("merge", "Merge…")
    def action_merge(self, ids: list[str]):
        """The merge page for the ticked contacts (two to ten of those the user sees)."""
        wanted = {int(i) for i in ids if str(i).isdigit()}
        seen = (
            sorted(
                db.session.scalars(
                    select(Contact.id).where(
                        Contact.id.in_(wanted), access.contact_visibility(current_user)
                    )
                )
            )
            if 2 <= len(wanted) <= MAX_MERGED
            else []
        )
        if len(seen) < 2 or len(seen) != len(wanted):
            flash("Tick two to ten contacts to merge.", "error")
            return None
        return redirect(url_for("merge.contacts", ids=seen))

    @action(
        "delete",
        "Delete (to the trash)",
        "Move the selected contacts to the trash? A manager can restore them from there.",
    )
    def action_delete(self, ids: list[str]) -> None:
        wanted = [int(i) for i in ids if str(i).isdigit()]
        target = select(Contact.id).where(Contact.id.in_(wanted))
        self._run_bulk(lambda: bulk.move_to_trash(current_user, target))

    def _run_bulk(self, run) -> bool:
        """One bulk action (or several chosen together), one transaction; their reports (or
        the refusal) as messages."""
        with commit_or_explain(conflict_message=CHANGED_MEANWHILE) as outcome:
            reported = run()
        if not outcome:
            return False
        for result in reported if isinstance(reported, list) else [reported]:
            flash(result.message, "success")
        return True

    # ---- bulk actions on a selection, ticked rows or everything matching ---------------
    def bulk_target(self, args) -> tuple[Any, str]:
        """(a select of contact ids, a description) for the bulk page's target: the user's
        selection, ticked ids, or everything the list matches (its search, filters and tab:
        the duplicates page compares those too)."""
        kind = args.get("target", "")
        if kind == "selection":
            return selection.selected_ids(current_user), "your selected contacts"
        if kind == "ids":
            wanted = [int(i) for i in args.get("ids", "").split(",") if i.isdigit()][:1000]
            return select(Contact.id).where(Contact.id.in_(wanted)), "the ticked contacts"
        if kind == "matching":
            scope = list_scope(args)
            query = self.matching_query(args.get("search"), self._get_list_filter_args(), scope)
            return query.with_entities(Contact.id).order_by(None), "all contacts matching the list"
        abort(404)

    @expose("/bulk/", methods=("GET", "POST"))
    def bulk_view(self):
        if not self.can_bulk_edit:
            abort(403)
        target, described = self.bulk_target(request.args)
        total = bulk.count(current_user, target)
        form = BulkForm(request.form if request.method == "POST" else None)
        form.fill_choices()
        if request.method == "POST" and form.validate():
            if form.chosen == ["export"]:
                return self._export(target, form.export_format.data, described)
            if form.chosen == ["email"]:
                return self._email(target, described)
            if self._run_bulk(lambda: form.run(current_user, target)):
                return redirect(self._return_url(request.args))
        return self.render(
            "admin/contact_bulk.html",
            form=form,
            total=total,
            described=described,
            return_url=self._return_url(request.args),
            param_of={key: param for key, (_, _, param) in BULK_OPERATIONS.items()},
        )

    def _return_url(self, args) -> str:
        if args.get("target") == "selection":
            return url_for(".index_view", show="selected")
        kept = {k: v for k, v in args.items() if k not in ("target", "ids")}
        return url_for(".index_view", **kept)

    def _export(self, target, file_format: str, described: str):
        """The download of the target's contacts in the chosen format, streamed as it is read
        (XLSX once written to a temporary file); the export is in the history."""
        if not can(current_user, "contact.export"):
            abort(403)
        chosen = exporting.FORMATS[file_format]
        if request.args.get("target") == "matching":
            kept = {k: v for k, v in request.args.items() if k != "target"}
            described += f" ({urlencode(kept)})" if kept else ""
        total = exporting.count_exported(current_user, target)
        if export_jobs.runs_in_background(total):
            job = export_jobs.start_export(current_user, target, file_format, described)
            not_started = jobs.commit_and_submit(export_jobs.run_export, job)
            if not_started:
                flash(not_started, "error")
                return redirect(url_for("exports.job", export_id=job.id))
            flash(
                f"Exporting {total:,} contacts to {chosen.name} in the background: the file "
                "will be ready to download on this page (and under Contacts > Exports).",
                "success",
            )
            return redirect(url_for("exports.job", export_id=job.id))
        exporting.record_export(current_user, target, file_format, described)
        db.session.commit()
        body = exporting.streamed(current_user, target, file_format)
        name = f"contacts-{utcnow().strftime('%Y%m%d-%H%M')}.{chosen.key}"
        return streamed_download(body, mimetype=chosen.mimetype, filename=name)

    @expose("/views/save/", methods=("POST",))
    def save_view_view(self):
        query = request.form.get("query", "")
        with commit_or_explain(quiet=True) as outcome:
            saved = segments.save_view(current_user, request.form.get("name", ""), query)
        if not outcome:
            flash(
                "Give the view a name to save it." if outcome.errors else outcome.message, "error"
            )
            return redirect(url_for(".index_view") + "?" + segments.clean_list_query(query))
        flash(f"View '{saved.name}' saved: find it under My views.", "success")
        return redirect(url_for(".index_view") + "?" + saved.query)

    @expose("/views/delete/", methods=("POST",))
    def delete_view_view(self):
        deleted = segments.delete_view(current_user, request.form.get("id", type=int) or 0)
        db.session.commit()
        flash("View deleted." if deleted else "No such view.", "success" if deleted else "error")
        return redirect(url_for(".index_view"))

    @expose("/selection/clear/", methods=("POST",))
    def clear_selection_view(self):
        if not self.can_bulk_edit:
            abort(403)
        removed = selection.clear(current_user)
        db.session.commit()
        flash(f"Selection cleared ({removed} contact(s)).", "success")
        return redirect(url_for(".index_view", show="selected"))
