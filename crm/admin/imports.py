"""Contacts → Import: upload a file, map its columns, preview, dry run, run as a job with a
progress bar, undo. Thin over crm.services.transfer.importing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, current_app, flash, jsonify, redirect, request, url_for
from flask_admin import expose
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from markupsafe import Markup
from sqlalchemy import select
from wtforms import StringField

from crm.admin.committing import CHANGED_MEANWHILE, commit_or_explain
from crm.admin.pages import PermissionPage
from crm.auth.permissions import can
from crm.errors import FieldError
from crm.extensions import db
from crm.models import (
    AddressType,
    DuplicateHandling,
    ImportJob,
    JobStatus,
    PhoneType,
    SocialPlatform,
)
from crm.services.platform import jobs
from crm.services.platform import validation as v
from crm.services.platform.users import emails_of
from crm.services.transfer.importing.jobs import (
    create_job,
    dry_runs_of,
    fail_interrupted,
    job_headers,
    resume_job,
    save_mapping,
    start,
)
from crm.services.transfer.importing.preview import PREVIEW_COLUMNS, preview
from crm.services.transfer.importing.rows import type_names
from crm.services.transfer.importing.run import run_job
from crm.services.transfer.importing.targets import Mapping, parse_target, target_choices
from crm.services.transfer.importing.undo import undo_import

JOBS_SHOWN = 50


class UploadForm(FlaskForm):
    file = FileField("File", validators=[FileRequired("Choose a file to import.")])
    sheet = StringField("Sheet (XLSX, optional)")


class CsrfOnly(FlaskForm):
    """The CSRF token of the pages' other forms (their fields are read from the request)."""


class ImportView(PermissionPage):
    permission = "contact.import"

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("name", "Import")
        kwargs.setdefault("category", "Contacts")
        super().__init__(endpoint="imports", url="imports", **kwargs)

    def _job(self, job_id: int, *, follow: bool = False) -> ImportJob:
        """The user's own import; with `follow`, anyone's for those who follow every job
        (job.view_all: read only, the mapping, undo and resume stay with its owner)."""
        job = db.session.get(ImportJob, job_id)
        if job is None:
            abort(404)
        if job.user_id != current_user.id and not (follow and can(current_user, "job.view_all")):
            abort(404)  # another user's import is not shown
        return job

    # ---- the list and the upload --------------------------------------------------------
    @expose("/", methods=("GET", "POST"))
    def index(self):
        fail_interrupted()
        form = UploadForm()
        if form.validate_on_submit():
            upload = form.file.data
            data = upload.read(current_app.config["CRM_IMPORT_MAX_BYTES"] + 1)
            with commit_or_explain(quiet=True, conflict_message=CHANGED_MEANWHILE) as outcome:
                job = create_job(
                    current_user, data, upload.filename or "upload", sheet=form.sheet.data or None
                )
            if outcome:
                return redirect(url_for(".mapping", job_id=job.id))
            form.file.errors = [*form.file.errors, outcome.message]
        query = select(ImportJob).where(ImportJob.dry_run.is_(False))
        every = can(current_user, "job.view_all")
        if not every:
            query = query.where(ImportJob.user_id == current_user.id)
        recent = db.session.scalars(query.order_by(ImportJob.id.desc()).limit(JOBS_SHOWN)).all()
        return self.render(
            "admin/imports.html",
            form=form,
            jobs=recent,
            every=every,
            who=emails_of(j.user_id for j in recent),
        )

    # ---- mapping, preview, dry run, start ---------------------------------------------------
    @expose("/<int:job_id>/mapping/", methods=("GET", "POST"))
    def mapping(self, job_id: int):
        job = self._job(job_id)
        if job.status != JobStatus.DRAFT:
            return redirect(url_for(".job", job_id=job.id))
        headers = job_headers(job)
        samples = list(job.details.get("samples") or [])
        mapping = Mapping.from_json(job.mapping)
        errors: dict[str, list[str]] = {}
        shown = None
        form = CsrfOnly()
        on_duplicate = job.on_duplicate
        if request.method == "POST":
            if not form.validate_on_submit():
                errors["form"] = ["The form expired: try again."]
            else:
                mapping, on_duplicate, errors = self._posted(headers, mapping)
                phone_region = request.form.get("phone_region") or None
                try:
                    job.phone_region = v.clean_country(phone_region)
                except FieldError as exc:
                    errors["phone_region"] = [str(exc)]
                if not errors:
                    job.mapping = mapping.as_json()
                    job.on_duplicate = on_duplicate
                    response = self._act(job, mapping, on_duplicate, errors)
                    if response is not None:
                        return response
                    if request.form.get("do") == "preview":
                        shown = preview(current_user, job, mapping)
                    db.session.commit()
        return self.render(
            "admin/import_mapping.html",
            job=job,
            headers=headers,
            samples=samples,
            mapping=mapping,
            target_options=_target_options(target_choices(slots=_slots_needed(mapping))),
            type_slots=_type_slots(mapping),
            type_names=_type_names(),
            duplicate_choices=list(DuplicateHandling),
            on_duplicate=on_duplicate,
            countries=v.country_choices(),
            default_region=current_app.config.get("CRM_DEFAULT_PHONE_REGION", "US"),
            errors=errors,
            preview=shown,
            preview_columns=PREVIEW_COLUMNS,
            dry_runs=dry_runs_of(job),
            form=form,
            row_count=job.details.get("row_count", 0),
        )

    def _posted(self, headers: list[str], current: Mapping):
        errors: dict[str, list[str]] = {}
        columns = []
        for index in range(len(headers)):
            value = request.form.get(f"col_{index}", current.columns[index])
            try:
                columns.append(str(parse_target(value)))
            except ValueError as exc:
                errors.setdefault("mapping", []).append(f"Column {index + 1}: {exc}")
                columns.append(current.columns[index])
        types = dict(current.types)
        for key in _type_slots(Mapping(columns)):
            chosen = request.form.get(f"type_{key}")
            if chosen:
                types[key] = chosen
        try:
            on_duplicate = DuplicateHandling(request.form.get("on_duplicate", "skip"))
        except ValueError:
            errors["on_duplicate"] = ["Choose what to do with rows matching existing contacts."]
            on_duplicate = DuplicateHandling.SKIP
        return Mapping(columns, types), on_duplicate, errors

    def _act(self, job: ImportJob, mapping: Mapping, on_duplicate, errors: dict):
        action = request.form.get("do")
        if action not in ("save_mapping", "dry_run", "run"):
            return None
        with commit_or_explain(quiet=True, conflict_message=CHANGED_MEANWHILE) as outcome:
            if action == "save_mapping":
                saved = save_mapping(current_user, job, request.form.get("mapping_name"))
            else:
                started = start(
                    current_user,
                    job,
                    mapping,
                    on_duplicate,
                    dry_run=action == "dry_run",
                    phone_region=job.phone_region,
                )
                _submit(started)  # committed first: the job runs only once its row is saved
        if not outcome:
            if outcome.errors:
                errors.update(outcome.errors)
            else:
                errors["form"] = [outcome.message]
            return None
        if action == "save_mapping":
            flash(f"Mapping saved as {saved.name!r}: used for files with these columns.", "success")
            return redirect(url_for(".mapping", job_id=job.id))
        if action == "dry_run":
            flash("Dry run started: nothing is saved. Its counts appear below.", "info")
            return redirect(url_for(".mapping", job_id=job.id))
        return redirect(url_for(".job", job_id=started.id))

    # ---- a job ----------------------------------------------------------------------------
    @expose("/<int:job_id>/")
    def job(self, job_id: int):
        fail_interrupted()
        job = self._job(job_id, follow=True)
        return self.render(
            "admin/import_job.html",
            job=job,
            form=CsrfOnly(),
            owner_email=emails_of([job.user_id]).get(job.user_id),
        )

    @expose("/<int:job_id>/status.json")
    def status(self, job_id: int):
        job = self._job(job_id, follow=True)
        return jsonify(
            status=job.status.value,
            label=job.status.label,
            progress=job.progress,
            done_rows=job.done_rows,
            total_rows=job.total_rows,
            created=job.created,
            updated=job.updated,
            skipped=job.skipped,
            failed=job.failed,
        )

    @expose("/<int:job_id>/undo/", methods=("POST",))
    def undo(self, job_id: int):
        job = self._job(job_id)
        if not CsrfOnly().validate_on_submit():
            abort(400)
        with commit_or_explain(conflict_message=CHANGED_MEANWHILE) as outcome:
            report = undo_import(current_user, job)
        if outcome:
            flash(
                f"Import undone: {report.deleted} contact(s) deleted, {report.restored} "
                f"restored; {report.kept} changed by someone since and left as they are.",
                "success",
            )
        return redirect(url_for(".job", job_id=job.id))

    @expose("/<int:job_id>/resume/", methods=("POST",))
    def resume(self, job_id: int):
        job = self._job(job_id)
        if not CsrfOnly().validate_on_submit():
            abort(400)
        with commit_or_explain(conflict_message=CHANGED_MEANWHILE) as outcome:
            resume_job(current_user, job)
        if outcome:
            _submit(job)
        return redirect(url_for(".job", job_id=job.id))


def _submit(job: ImportJob) -> None:
    """Commit, then hand the job to the job runner; if the queue is down, say so (the job's
    page then shows it failed, with the reason)."""
    not_started = jobs.commit_and_submit(run_job, job)
    if not_started:
        flash(not_started, "error")


def _target_options(choices: list[tuple[str, str]]) -> Callable[[str], Markup]:
    """The <option>s of a column's "Goes to" list with its target selected. They are
    rendered once per page and copied for each column: a file at the column limit (500
    columns of 330 targets each) took 1.5 s through the template's loop."""
    rendered = {
        value: Markup('<option value="{}">{}</option>').format(value, label)
        for value, label in choices
    }
    every = Markup("").join(rendered.values())

    def options(selected: str) -> Markup:
        chosen = rendered.get(selected)
        if chosen is None:
            return every
        # Markup's replace escapes plain-text arguments: these are Markup themselves.
        return every.replace(chosen, chosen.replace(Markup('">'), Markup('" selected>'), 1), 1)

    return options


def _slots_needed(mapping: Mapping) -> int:
    slots = [t.slot for t in mapping.targets() if t.slot]
    return max([5, *slots])


def _type_slots(mapping: Mapping) -> list[str]:
    """Slots used without a column giving their type: the page asks for it."""
    targets = mapping.targets()
    used = {t.slot_key: t.kind for t in targets if t.slot and t.kind != "email"}
    typed = {t.slot_key for t in targets if t.slot and t.name in ("type", "platform")}
    return sorted(k for k in used if k not in typed)


def _type_names() -> dict[str, list[str]]:
    return {
        "phone": type_names(PhoneType),
        "address": type_names(AddressType),
        "social": type_names(SocialPlatform),
    }
