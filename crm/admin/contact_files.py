"""A contact's files and picture on its page (the Files tab): upload, download, delete, and
the picture shown on the card. The routes are a view of their own (not in the menu), each
checking its right and the contact's visibility; the work is crm.services.card.files'."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_admin import expose
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from crm.admin.committing import CHANGED_MEANWHILE, commit_or_explain
from crm.admin.pages import ContactPageActions
from crm.auth.permissions import can
from crm.errors import DomainError, NotFound
from crm.models import ContactFile
from crm.services.card import files

# Room for the form around the file (the CSRF token, the multipart headers) in a request.
_FORM_ALLOWANCE = 64 * 1024


@dataclass
class FilesTab:
    """What the Files tab shows to the user, and which of its buttons they have."""

    files: list[ContactFile] = field(default_factory=list)
    may_upload: bool = False
    deletable: set[int] = field(default_factory=set)  # ids of the files the user may delete
    max_bytes: int = 0
    max_size: str = ""  # the limit, for people: "10 MB"
    accept: str = ""  # the accepted extensions, for the file chooser: ".pdf,.png,..."
    may_change_picture: bool = False

    def size_of(self, found: ContactFile) -> str:
        return files.human_size(found.size)

    def type_of(self, found: ContactFile) -> str:
        return files.type_label(found.content_type)


def files_tab(user: Any, contact: Any) -> Any:
    """What the Files tab of the contact's page shows to `user`."""
    found = files.files_of_contact(user, contact.id)
    limit = files.max_upload_bytes()
    return FilesTab(
        files=found,
        may_upload=can(user, "file.upload"),
        deletable={f.id for f in found if files.may_delete(user, f)},
        max_bytes=limit,
        max_size=files.human_size(limit),
        accept=",".join(f".{ext}" for ext in files.allowed_extensions()),
        may_change_picture=can(user, "file.upload") and can(user, "contact.edit"),
    )


class ContactFilesView(ContactPageActions):
    """The Files tab's routes: POSTs that change files and the picture, GETs that send them."""

    def __init__(self, **kwargs: Any):
        super().__init__(name="Contact files", endpoint="contact_files",
                         url="/admin/contact-files", **kwargs)  # fmt: skip

    def create_blueprint(self, admin: Any):
        blueprint = super().create_blueprint(admin)
        blueprint.url_value_preprocessor(_limit_request_size)
        blueprint.register_error_handler(RequestEntityTooLarge, _too_large_page)
        return blueprint

    def _do(self, contact_id: int, work) -> Any:
        """Run `work()` (a success message back) and commit once; a refusal rolls back (and
        with it any bytes written) and says why."""
        with commit_or_explain(quiet=True, conflict_message=CHANGED_MEANWHILE) as outcome:
            message = work()
        if outcome:
            flash(message, "success")
        elif isinstance(outcome.error, NotFound):
            abort(404)
        else:
            flash(outcome.message, "error")
        return redirect(url_for("contact.details_view", id=contact_id, tab="files") + "#tab-files")

    # ---- files --------------------------------------------------------------------------
    @expose("/<int:contact_id>/upload/", methods=("POST",))
    def upload(self, contact_id: int):
        contact = self.contact(contact_id, "file.upload")
        chosen = request.files.get("file")

        def work() -> str:
            if chosen is None or not chosen.filename:
                raise DomainError("Choose a file to upload.")
            made = files.upload_file(current_user, contact, chosen.filename, chosen.stream)
            return f"“{made.filename}” uploaded ({files.human_size(made.size)})."

        return self._do(contact_id, work)

    @expose("/<int:file_id>/delete/", methods=("POST",))
    def delete(self, file_id: int):
        found = files.get_visible_file(current_user, file_id)
        if found is None:
            abort(404)
        if not files.may_delete(current_user, found):
            abort(403)
        contact_id, name = found.contact_id, found.filename

        def work() -> str:
            files.delete_file(current_user, file_id)
            return f"“{name}” deleted."

        return self._do(contact_id, work)

    @expose("/<int:file_id>/download/")
    def download(self, file_id: int):
        """The file as an attachment, with the type read from its content when uploaded."""
        if not can(current_user, "contact.view"):
            abort(403)
        try:
            found, path = files.open_file(current_user, file_id)
        except NotFound:
            abort(404)
        response = send_file(
            path,
            mimetype=found.content_type,
            as_attachment=True,
            download_name=found.filename,  # werkzeug adds filename*= (RFC 5987) for unicode
            conditional=True,
            etag=found.sha256,
            max_age=0,
        )
        # Cache-Control: private, no-store, as every response but the static files
        # (crm.security).
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    # ---- the picture --------------------------------------------------------------------
    @expose("/<int:contact_id>/picture/")
    def picture(self, contact_id: int):
        """The contact's picture, inline (for the card's <img>)."""
        if not can(current_user, "contact.view"):
            abort(403)
        try:
            path, mimetype = files.picture_file(current_user, contact_id)
        except NotFound:
            abort(404)
        # The name changes with each new picture: it is the ETag. A contact's picture is
        # personal data: not stored by the browser (private, no-store, crm.security).
        response = send_file(path, mimetype=mimetype, conditional=True, etag=path.stem, max_age=0)
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @expose("/<int:contact_id>/picture/", methods=("POST",))
    def upload_picture(self, contact_id: int):
        contact = self.contact(contact_id, "file.upload")
        if not can(current_user, "contact.edit"):
            abort(403)
        chosen = request.files.get("picture")

        def work() -> str:
            if chosen is None or not chosen.filename:
                raise DomainError("Choose a picture to upload.")
            files.set_picture(current_user, contact, chosen.filename, chosen.stream)
            return "Picture saved."

        return self._do(contact_id, work)

    @expose("/<int:contact_id>/picture/delete/", methods=("POST",))
    def delete_picture(self, contact_id: int):
        contact = self.contact(contact_id, "file.upload")
        if not can(current_user, "contact.edit"):
            abort(403)

        def work() -> str:
            removed = files.remove_picture(current_user, contact)
            return "Picture removed." if removed else "The contact has no picture."

        return self._do(contact_id, work)


def _limit_request_size(_endpoint: str | None, _values: dict[str, Any] | None) -> None:
    """Refuse a request body larger than a file may be, before anything reads it: URL value
    preprocessors run before every before_request hook, CSRFProtect's (which parses the form)
    included. An app-wide MAX_CONTENT_LENGTH that is smaller still applies."""
    if request.method != "POST":
        return
    limit = files.max_upload_bytes() + _FORM_ALLOWANCE
    app_limit = current_app.config.get("MAX_CONTENT_LENGTH")
    request.max_content_length = min(limit, app_limit) if app_limit else limit


def _too_large_page(_exc: RequestEntityTooLarge):
    limit = files.human_size(files.max_upload_bytes())
    message = (
        f"Files and pictures of up to {limit} can be uploaded: this one is larger. "
        "Go back and choose a smaller file. Nothing was saved."
    )
    page = render_template("errors/error.html", code=413, title="File too large", message=message)
    return page, 413
