"""Administration > API tokens: each user makes and revokes their own tokens for the JSON
API (crm.api). A new token is shown once, on the page that made it, never stored."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_login import current_user

from crm.admin.committing import CHANGED_MEANWHILE, commit_or_explain
from crm.admin.pages import PermissionPage
from crm.errors import NotFound
from crm.services.platform.api_tokens import (
    SCOPES,
    create_token,
    revoke_token,
    scopes_for,
    tokens_of,
)


class ApiTokenView(PermissionPage):
    permission = "api.tokens"

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("name", "API tokens")
        kwargs.setdefault("category", "Administration")
        super().__init__(endpoint="api_tokens", url="api-tokens", **kwargs)

    @expose("/", methods=("GET", "POST"))
    def index(self):
        made, errors = None, []
        if request.method == "POST":
            # The page's form lists the scopes (ticked); a form without them asks for all.
            chosen = request.form.getlist("scopes") if request.form.get("scopes_shown") else None
            with commit_or_explain(quiet=True, conflict_message=CHANGED_MEANWHILE) as outcome:
                token, made = create_token(current_user, request.form.get("name", ""), chosen)
            if not outcome:
                made = None  # nothing was saved: no token to show
                errors = [*outcome.errors.get("name", []), *outcome.errors.get("scopes", [])]
                if not outcome.errors:
                    flash(outcome.message, "error")
        return self.render(
            "admin/api_tokens.html",
            tokens=tokens_of(current_user),
            made=made,
            errors=errors,
            api_url=url_for("api.list_contacts", _external=True),
            scopes=[(scope, SCOPES[scope][0]) for scope in scopes_for(current_user)],
        )

    @expose("/revoke/", methods=("POST",))
    def revoke(self):
        with commit_or_explain(quiet=True, conflict_message=CHANGED_MEANWHILE) as outcome:
            token = revoke_token(current_user, request.form.get("id", type=int) or 0)
        if isinstance(outcome.error, NotFound):
            abort(404)
        if outcome:
            flash(f"API token {token.name!r} revoked: it no longer works.", "success")
        else:
            flash(outcome.message, "error")
        return redirect(url_for(".index"))
