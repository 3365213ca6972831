"""The API's answers: a JSON error, a created record with its address, and `committed`, the
one way an API call commits its work or explains why not."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, g, jsonify

from crm.errors import DomainError, PermissionDenied, StaleEditError, ValidationFailed
from crm.extensions import db
from crm.services.platform import audit
from crm.services.platform.write_conflicts import refused_on_conflict


def error(status: int, message: str, **extra: Any) -> Response:
    response = jsonify(error=message, **extra)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="crm"'
    return response


def committed(
    work: Callable[[], Any],
    failed: str,
    conflict: int = 422,
    current_version: Callable[[], Any] | None = None,
    what: str = "record",
) -> Any:
    """`work()` as the token's user, committed; a domain error rolls everything back and
    becomes the JSON answer (422 with the fields' errors, 403 refused, else `conflict`). A
    stale edit, or a write conflict with a simultaneous request, is 409, with the record's
    `version` now when `current_version` reads it."""
    try:
        with refused_on_conflict(what), audit.acting_as(g.api_user):
            result = work()
            db.session.commit()
    except ValidationFailed as exc:
        db.session.rollback()
        return error(422, failed, errors=exc.errors)
    except StaleEditError as exc:
        db.session.rollback()
        extra = {"version": current_version()} if current_version is not None else {}
        return error(409, exc.message, **extra)
    except DomainError as exc:
        db.session.rollback()
        return error(403 if isinstance(exc, PermissionDenied) else conflict, exc.message)
    return result


def answer(body: dict[str, Any], location: str, status: int = 201) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.headers["Location"] = location
    return response
