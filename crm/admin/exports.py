"""Contacts → Exports: the large exports written in the background, their progress and the
files to download. Thin over crm.services.transfer.export_jobs."""

from __future__ import annotations

from typing import Any

from flask import abort, jsonify, send_file
from flask_admin import expose
from flask_login import current_user

from crm.admin.pages import PermissionPage
from crm.models import ExportJob
from crm.services.platform.users import emails_of
from crm.services.transfer import export_jobs, exporting


class ExportView(PermissionPage):
    permission = "contact.export"

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("name", "Exports")
        kwargs.setdefault("category", "Contacts")
        super().__init__(endpoint="exports", url="exports", **kwargs)

    def _job(self, export_id: int, *, follow: bool = False) -> ExportJob:
        job = export_jobs.job_of(current_user, export_id, follow=follow)
        if job is None:
            abort(404)  # another user's export is not shown
        return job

    @expose("/")
    def index(self):
        export_jobs.fail_interrupted()
        export_jobs.delete_old_files()
        shown = export_jobs.jobs_of(current_user)
        return self.render(
            "admin/exports.html",
            jobs=shown,
            formats=exporting.FORMATS,
            who=emails_of(j.user_id for j in shown),
        )

    @expose("/<int:export_id>/")
    def job(self, export_id: int):
        export_jobs.fail_interrupted()
        job = self._job(export_id, follow=True)
        return self.render(
            "admin/export_job.html",
            job=job,
            formats=exporting.FORMATS,
            who=emails_of([job.user_id]),
        )

    @expose("/<int:export_id>/status.json")
    def status(self, export_id: int):
        job = self._job(export_id, follow=True)
        return jsonify(
            status=job.status.value,
            label=job.status.label,
            progress=job.progress,
            done=job.done,
            total=job.total,
        )

    @expose("/<int:export_id>/download/")
    def download(self, export_id: int):
        job = self._job(export_id)
        path = export_jobs.download_path(job)
        if path is None:
            abort(404)
        chosen = exporting.FORMATS[job.file_format]
        stamp = job.created_at.strftime("%Y%m%d-%H%M")
        return send_file(
            path,
            mimetype=chosen.mimetype,
            as_attachment=True,
            download_name=f"contacts-{stamp}-export-{job.id}.{chosen.key}",
        )
