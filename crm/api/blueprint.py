"""The API's blueprint and its gate: every request shows a valid token of a user the roles
let use the API (`_authenticate`); every route then asks `require` for its scope and right."""

from __future__ import annotations

from flask import Blueprint, g, request

from crm.api.responses import error
from crm.auth.permissions import can
from crm.errors import PermissionDenied
from crm.extensions import db
from crm.services.platform.api_tokens import has_scope, token_for

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.before_request
def _authenticate():
    scheme, _, text = request.headers.get("Authorization", "").partition(" ")
    token = token_for(text.strip()) if scheme.lower() == "bearer" else None
    if token is None:
        db.session.rollback()
        return error(401, "Send a valid API token: Authorization: Bearer crm_...")
    user = token.user
    db.session.commit()  # the token's last use
    if not can(user, "api.tokens"):
        return error(403, "Your roles do not allow using the API.")
    g.api_user = user
    g.api_token = token
    return None


def require(permission: str, scope: str) -> None:
    """The token's scope, then its user's right (both, or 403 with which is missing)."""
    if not has_scope(g.api_token, scope):
        raise PermissionDenied(f"This token may not do this: it lacks the scope {scope}.")
    if not can(g.api_user, permission):
        raise PermissionDenied("You do not have permission to do this.")


@bp.errorhandler(PermissionDenied)
def _denied(exc: PermissionDenied):
    return error(403, exc.message)
