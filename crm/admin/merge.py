"""Contacts → Merges: the merge page for contacts and accounts (side by side, field by field),
the list of merges, each merge's page, and undo. Thin over crm.services.merge."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select

from crm.admin.committing import CHANGED_MEANWHILE, commit_or_explain
from crm.admin.pages import PermissionPage
from crm.auth.permissions import can
from crm.errors import DomainError, NotFound, ValidationFailed
from crm.extensions import db
from crm.models import MergeRecord
from crm.services.merge.accounts import merge_accounts
from crm.services.merge.contacts import merge_contacts
from crm.services.merge.plan import MAX_MERGED, account_plan, contact_plan
from crm.services.merge.undo import undo_merge, undo_refusal

PER_PAGE = 50
# Two merges of the same records at the same moment: the second finds them changed.
MERGED_MEANWHILE = (
    "Another merge or edit changed these {what} while you were merging them. Nothing was "
    "merged: look at them again, then merge."
)
_KINDS = {
    "contact": {
        "plan": contact_plan,
        "merge": merge_contacts,
        "what": "contacts",
        "details": "contact.details_view",
        "list": "contact.index_view",
    },
    "account": {
        "plan": account_plan,
        "merge": merge_accounts,
        "what": "accounts",
        "details": "account.details_view",
        "list": "account.index_view",
    },
}


class MergeForm(FlaskForm):
    """No fields of its own: the CSRF token (the choices are read from the request)."""


class MergeView(PermissionPage):
    permission = "contact.merge"

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("name", "Merges")
        kwargs.setdefault("category", "Contacts")
        super().__init__(endpoint="merge", url="merge", **kwargs)

    # ---- the merge page -----------------------------------------------------------------
    @expose("/contacts/", methods=("GET", "POST"))
    def contacts(self):
        return self._merge_page("contact")

    @expose("/accounts/", methods=("GET", "POST"))
    def accounts(self):
        return self._merge_page("account")

    def _merge_page(self, kind: str):
        spec = _KINDS[kind]
        ids = request.values.getlist("ids")
        master = request.values.get("master")
        back = url_for(spec["list"])
        try:
            plan = spec["plan"](current_user, ids, master)
        except ValidationFailed as exc:
            flash(" ".join(m for msgs in exc.errors.values() for m in msgs), "error")
            return redirect(back)
        except DomainError as exc:
            if request.method == "POST" and isinstance(exc, NotFound):
                # Merged (or trashed) since the page was opened: say so before the details.
                flash(MERGED_MEANWHILE.format(what=spec["what"]), "error")
            flash(exc.message, "error")
            return redirect(back)
        form = MergeForm()
        errors: dict[str, list[str]] = {}
        picked = {fp.field.name: fp.chosen for fp in plan.fields}
        if request.method == "POST":
            picked.update(
                {
                    fp.field.name: request.form.get(f"f_{fp.field.name}") or fp.chosen
                    for fp in plan.fields
                }
            )
            if not form.validate_on_submit():
                errors["form"] = ["The form expired or was not sent from this page: try again."]
            else:
                versions = {r.id: request.form.get(f"v_{r.id}") for r in plan.records}
                meanwhile = MERGED_MEANWHILE.format(what=spec["what"])
                with commit_or_explain(quiet=True, conflict_message=meanwhile) as outcome:
                    record = spec["merge"](
                        current_user,
                        [r.id for r in plan.records],
                        master_id=plan.master.id,
                        choices=picked,
                        versions=versions,
                    )
                if outcome.errors:
                    errors = outcome.errors
                elif outcome.stale:
                    flash(outcome.message, "error")
                    return redirect(
                        url_for(
                            f".{kind}s", ids=[r.id for r in plan.records], master=plan.master.id
                        )
                    )
                elif isinstance(outcome.error, NotFound):
                    flash(outcome.message, "error")
                    return redirect(back)
                elif not outcome:
                    errors = {"form": [outcome.message]}
                else:
                    count = len(record.merged_ids)
                    what = spec["what"] if count > 1 else spec["what"][:-1]
                    flash(
                        f"Merged {count} other {what} into {plan.master}. "
                        "The merge is listed under Contacts > Merges.",
                        "success",
                    )
                    return redirect(url_for(spec["details"], id=plan.master.id))
            if errors:
                db.session.expire_all()
                plan = spec["plan"](current_user, [r.id for r in plan.records], plan.master.id)
        return self.render(
            "admin/merge.html",
            plan=plan,
            picked=picked,
            errors=errors,
            form=form,
            kind=kind,
            what=spec["what"],
            max_merged=MAX_MERGED,
            cancel_url=back,
        )

    # ---- the merges ---------------------------------------------------------------------
    @expose("/")
    def index(self):
        page = max(request.args.get("page", 0, type=int), 0)
        total = db.session.scalar(select(func.count()).select_from(MergeRecord)) or 0
        records = db.session.scalars(
            select(MergeRecord)
            .order_by(MergeRecord.id.desc())
            .offset(page * PER_PAGE)
            .limit(PER_PAGE)
        ).all()
        return self.render(
            "admin/merges.html",
            records=records,
            page=page,
            pages=max((total + PER_PAGE - 1) // PER_PAGE, 1),
            total=total,
        )

    @expose("/<int:merge_id>/")
    def details(self, merge_id: int):
        record = db.session.get(MergeRecord, merge_id) or abort(404)
        ledger = record.changes or {}
        moved: dict[str, int] = {}
        for item in ledger.get("changes", []):
            moved[item["table"]] = moved.get(item["table"], 0) + 1
        left: dict[str, int] = {}
        for item in ledger.get("left", []):
            left[item["table"]] = left.get(item["table"], 0) + 1
        spec = _KINDS.get(record.kind, _KINDS["contact"])
        return self.render(
            "admin/merge_details.html",
            record=record,
            ids=[record.master_id, *record.merged_ids],
            moved=sorted(moved.items()),
            left=sorted(left.items()),
            refusal=undo_refusal(record),
            may_undo=can(current_user, "merge.undo"),
            details_endpoint=spec["details"],
            form=MergeForm(),
        )

    @expose("/<int:merge_id>/undo/", methods=("POST",))
    def undo(self, merge_id: int):
        if not can(current_user, "merge.undo"):
            abort(403)
        record = db.session.get(MergeRecord, merge_id) or abort(404)
        if not MergeForm().validate_on_submit():
            flash("The form expired or was not sent from this page: try again.", "error")
            return redirect(url_for(".details", merge_id=merge_id))
        with commit_or_explain(
            prefix="Not undone: ", conflict_message=CHANGED_MEANWHILE
        ) as outcome:
            undo_merge(current_user, record)
        if outcome:
            flash(f"Merge #{merge_id} undone: the records are back as they were.", "success")
        return redirect(url_for(".details", merge_id=merge_id))
